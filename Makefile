# MpegFlow. `make run` starts the daemon on its embedded defaults;
# `make test` installs what the tests need and runs every test.

GO       ?= go
BIN      := bin/mpegflow
LOADBIN  := bin/mpegflow-load
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
HLSJS    := web/static/hls.min.js
TUSJS    := web/static/tus.min.js
FUZZTIME ?= 10s

.PHONY: all build console run s3 test test-go bench bench-hls bench-ingest bench-load bench-load-zerolatency fuzz lint deps clean docker

all: build

# hls.js comes from npm (package.json) and is embedded into the binary.
$(HLSJS): package.json package-lock.json
	@if [ ! -f node_modules/hls.js/dist/hls.min.js ]; then \
		command -v npm >/dev/null || { echo "npm is needed to fetch hls.js for the player page: apt-get install npm"; exit 1; }; \
		npm ci --no-audit --no-fund --loglevel=error; \
	fi
	cp node_modules/hls.js/dist/hls.min.js $(HLSJS)

# tus-js-client (the upload page's resumable uploads) likewise.
$(TUSJS): package.json package-lock.json
	@if [ ! -f node_modules/tus-js-client/dist/tus.min.js ]; then \
		command -v npm >/dev/null || { echo "npm is needed to fetch tus-js-client for the upload page: apt-get install npm"; exit 1; }; \
		npm ci --no-audit --no-fund --loglevel=error; \
	fi
	cp node_modules/tus-js-client/dist/tus.min.js $(TUSJS)

# The web console: TypeScript (web/console/src) bundled by esbuild into
# web/console/dist, which go build embeds (gitignored; a placeholder README
# keeps the embed valid in a plain checkout).
CONSOLE     := web/console/dist/app.js
CONSOLE_SRC := $(wildcard web/console/src/*.ts web/console/src/*.css)

node_modules/.bin/esbuild: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed to build the web console: apt-get install npm"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CONSOLE): node_modules/.bin/esbuild $(CONSOLE_SRC)
	npm run --silent build:console

console: $(CONSOLE)

build: $(HLSJS) $(TUSJS) $(CONSOLE)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/mpegflow
	$(GO) build -trimpath -o $(LOADBIN) ./cmd/mpegflow-load

run: build
	@./$(BIN) quickstart $(if $(CONFIG),--config $(CONFIG))
	exec ./$(BIN) serve $(if $(CONFIG),--config $(CONFIG))

deps:
	@scripts/deps.sh

# versitygw, the S3-compatible server the recording tests store into.
s3:
	@scripts/s3.sh

# Every test: unit, fuzz seeds, conformance, and the black-box end-to-end
# suite in test/ (real ffmpeg, real Chromium with hls.js). The end-to-end
# suite runs beside the unit packages, with up to E2EPARALLEL of its
# parallel tests at once: most of them wait on real-time publishers, not on
# the CPU (the browser and transcoding tests are not parallel). The unit
# packages run at a lower CPU priority (nice UNITNICE): the end-to-end
# tests play real-time media in real players, the unit tests only wait
# longer.
E2EPARALLEL ?= 4
UNITNICE ?= 5
test: deps s3 $(HLSJS) $(TUSJS) $(CONSOLE) lint
	@$(GO) test -race -count=1 -timeout 30m -parallel $(E2EPARALLEL) ./test/ & e2e=$$!; \
	nice -n $(UNITNICE) $(GO) test -race -count=1 -timeout 30m $$($(GO) list ./... | grep -v '/test$$'); unit=$$?; \
	wait $$e2e; e2e=$$?; \
	if [ $$unit -ne 0 ] || [ $$e2e -ne 0 ]; then echo "make test: unit packages exit $$unit, end-to-end exit $$e2e"; exit 1; fi

test-go:
	$(GO) test -race -count=1 ./...

bench: bench-hls bench-ingest bench-load

bench-hls:
	$(GO) test -run '^$$' -bench . -benchmem ./hls/... ./internal/stream/...

# The ingest read path: RTMP socket reads per MB of video (FFmpeg-style
# 128-byte chunks, with and without SO_RCVLOWAT) and the per-read metric cost.
bench-ingest:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 20x ./internal/ingest/rtmp/
	$(GO) test -run '^$$' -bench . -benchmem ./internal/metrics/

bench-load: build
	./$(LOADBIN) -daemon ./$(BIN) -publishers 20 -readers 200 -duration 60s

# One publisher without B-frames (x264 tune=zerolatency), one reader: the
# part availability floor.
bench-load-zerolatency: build
	./$(LOADBIN) -daemon ./$(BIN) -publishers 1 -readers 1 -bframes 0 -duration 30s

# Every fuzz target for FUZZTIME each (FUZZ=regexp narrows them); fails on
# any finding, which go test keeps under testdata/fuzz as a regression seed;
# FUZZPARALLEL=N caps the workers per target; FUZZMINIMIZETIME (default 5s)
# bounds how long each new input is shrunk.
fuzz:
	@FUZZPARALLEL=$(FUZZPARALLEL) FUZZMINIMIZETIME=$(FUZZMINIMIZETIME) scripts/fuzz.sh $(FUZZTIME) $(if $(FUZZ),$(FUZZ))

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

docker:
	docker build -t mpegflow:$(VERSION) .

clean:
	rm -rf bin $(HLSJS) $(TUSJS) web/console/dist/app.js web/console/dist/app.css
