#!/usr/bin/env bash
# Installs versitygw, the S3-compatible server the blob store tests run
# against (internal/blob TestS3 starts it on a free loopback port serving a
# temporary directory). `go install` builds it from the Go module proxy into
# $(go env GOPATH)/bin; nothing else is downloaded.
set -euo pipefail
VERSITYGW_VERSION="${VERSITYGW_VERSION:-v1.8.0}"
GO="${GO:-go}"
bin="$("$GO" env GOPATH)/bin/versitygw"
if command -v versitygw >/dev/null 2>&1 || [ -x "$bin" ]; then
	exit 0
fi
echo "installing versitygw ${VERSITYGW_VERSION} (S3-compatible server for the tests)"
GOFLAGS=-buildvcs=false "$GO" install "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}" || {
	echo "could not install versitygw: the S3 tests will be skipped (run: go install github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION})" >&2
	exit 1
}
