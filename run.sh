#!/usr/bin/env bash
# Builds and runs resgo (any command: train, eval, summary, bench). The default
# backend is the pure-Go one (the fastest here); when oneDNN's headers are
# installed (Debian: libdnnl-dev) the binary also gets the oneDNN backends
# (--backend dnnl, dnnl-winograd). The binary is kept in .bin/.
#
#   ./run.sh train        # the tutorial's ResNet-34 on MNIST, its defaults
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

bin=.bin/resgo
mkdir -p .bin
if [[ -e /usr/include/oneapi/dnnl/dnnl.h ]] && command -v "${CC:-gcc}" >/dev/null &&
	go build -tags dnnl -o "$bin" ./cmd/resgo 2>/dev/null; then
	:
else
	go build -o "$bin" ./cmd/resgo
fi
exec "$bin" "$@"
