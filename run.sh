#!/usr/bin/env bash
# Builds and runs resgo (any command: train, eval, summary, bench) with the
# fastest backend this machine can build: oneDNN when its headers are
# installed (as root on Debian, this script installs libdnnl-dev first),
# otherwise the pure-Go backend, saying so. The binary is kept in .bin/.
#
#   ./run.sh train        # the tutorial's ResNet-34 on MNIST, its defaults
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

header=/usr/include/oneapi/dnnl/dnnl.h
if [[ ! -e $header && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
	echo "resgo: installing libdnnl-dev (oneDNN) for the fast backend" >&2
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libdnnl-dev; } >/dev/null 2>&1 ||
		echo "resgo: could not install libdnnl-dev" >&2
fi
bin=.bin/resgo
mkdir -p .bin
if [[ -e $header ]] && command -v "${CC:-gcc}" >/dev/null && go build -tags dnnl -o "$bin" ./cmd/resgo; then
	:
else
	echo "resgo: oneDNN (Debian package libdnnl-dev) is not available: using the pure-Go backend" >&2
	go build -o "$bin" ./cmd/resgo
fi
exec "$bin" "$@"
