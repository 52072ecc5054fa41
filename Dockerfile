# syntax=docker/dockerfile:1
# MpegFlow: multi-stage build. The runtime image has ffmpeg, runs as a
# non-root user and checks its own health.

FROM node:20-bookworm-slim AS web
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/console web/console
RUN npm run --silent build:console

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=web /src/node_modules/hls.js/dist/hls.min.js web/static/hls.min.js
COPY --from=web /src/web/console/dist/ web/console/dist/
ARG VERSION=docker
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/mpegflow ./cmd/mpegflow

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/mpegflow --create-home mpegflow
COPY --from=build /out/mpegflow /usr/local/bin/mpegflow
USER mpegflow
WORKDIR /var/lib/mpegflow
ENV MPEGFLOW_DATA_DIR=/var/lib/mpegflow/data \
    MPEGFLOW_METRICS_ADDRESS=:9464
VOLUME ["/var/lib/mpegflow/data"]
# 8080 HLS/player/API/WHIP, 1935 RTMP, 8890/udp SRT, 8189/udp WebRTC (WHIP
# ICE), 9464 Prometheus metrics
EXPOSE 8080 1935 8890/udp 8189/udp 9464
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["mpegflow", "healthcheck", "--url", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["mpegflow"]
CMD ["serve"]
