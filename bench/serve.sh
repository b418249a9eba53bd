#!/usr/bin/env bash
# bench/serve.sh: resgo serve under load, next to resgo bench's inference
# speed, in one run on this machine.
#
#   bash bench/serve.sh CHECKPOINT [loadtest flags] [-- serve flags]
#
# CHECKPOINT should hold the tutorial's model (bench measures that one).
# The bars of the issue on serving: at concurrency 64, at least 80% of
# bench's batch-100 images/s; at concurrency 1, p99 latency at most 2x
# bench's batch-1 latency plus 1 ms; no errors; RSS flat over a 60 s run
# (add --duration 60s). The load test prints the mean batch the server
# formed at each level: bench times batches of 64 and 32 too, to compare
# with what the server could form (64 clients are at most 64 images a
# pass; with passes pipelined, about 32).
set -euo pipefail
cd "$(dirname "$0")/.."
ck=${1:?usage: bash bench/serve.sh CHECKPOINT [loadtest flags] [-- serve flags]}
shift
mkdir -p .bin
go build -o .bin/resgo ./cmd/resgo
go build -o .bin/loadtest ./tools/loadtest
echo "== resgo bench (inference, the tutorial's model)"
.bin/resgo bench --modes infer --batch-sizes 100,64,32,1
echo
echo "== resgo serve under load ($ck)"
.bin/loadtest --resgo .bin/resgo --checkpoint "$ck" "$@"
