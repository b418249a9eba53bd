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
# go build prints nothing while it works, and a first build (cold module
# and build caches) takes minutes: say what is happening.
if [[ ! -x $bin ]] || [[ -n "$(find . -name '*.go' -newer "$bin" -print -quit)" ]] || [[ go.mod -nt $bin ]]; then
	if [[ -x $bin ]]; then
		echo "run.sh: rebuilding resgo..." >&2
	else
		echo "run.sh: building resgo (the first build fetches and compiles its dependencies: a few minutes)..." >&2
	fi
fi
if [[ -e /usr/include/oneapi/dnnl/dnnl.h ]] && command -v "${CC:-gcc}" >/dev/null &&
	go build -tags dnnl -o "$bin" ./cmd/resgo 2>/dev/null; then
	:
else
	go build -o "$bin" ./cmd/resgo
fi
# Hints that resgo prints ("evaluate it with: ...") name this script, since
# its binary is not on PATH.
export RESGO_PROG=./run.sh
exec "$bin" "$@"
