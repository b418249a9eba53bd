#!/usr/bin/env bash
# Side-by-side speed of resgo and PyTorch on seed-resnet34, on this machine.
#
#   bash bench/compare.sh [--depth 64] [--steps 10] [--threads 2] [--warmup 2]
#                         [--b1-steps 100] [--rounds 1] [--precisions f32] [--out DIR]
#
# Builds resgo into a temporary directory, then measures, each row in its own
# process (so each has its own peak RSS): training at batch 100, inference at
# batch 100 and at batch 1 with
#   1. resgo bench --json
#   2. bench/pytorch_bench.py with glibc malloc's defaults
#   3. bench/pytorch_bench.py with malloc tuned by environment variables
# and prints one table. With --rounds N the whole set runs N times in turn and
# each row keeps its best speed (and its highest RSS) over the rounds: on a
# shared machine whose speed drifts, both tools get the same chances. Smoke test: bash bench/compare.sh --depth 8 --steps 2
# See bench/README.md.
set -euo pipefail

depth=64
steps=10
warmup=2
threads=2
rounds=1
backend=native
precisions=f32
b1_steps=""
out=""
py=${PYTHON:-/usr/bin/python3}
# Tuned malloc: no mmap for blocks under 32 MiB and no trimming of the heap
# top under 1 GiB, so that PyTorch's large, short-lived activation buffers
# are reused from the heap instead of being mapped, zeroed and unmapped at
# every step.
mmap_threshold=${TUNED_MMAP_THRESHOLD:-33554432}
trim_threshold=${TUNED_TRIM_THRESHOLD:-1073741824}

usage() {
	sed -n '2,14s/^# \{0,1\}//p' "$0"
	cat <<EOF

Options:
  --depth D      base depth, passed to both (default $depth: the real model)
  --steps N      timed steps for training and batch-100 inference (default $steps)
  --warmup N     untimed steps first (default $warmup)
  --threads T    compute threads for both (default $threads)
  --b1-steps N   timed steps for batch-1 inference, both tools (default 10x --steps: 100)
  --rounds N     run everything N times in turn, keep each row's best (default $rounds)
  --backend B    resgo backend: native (pure Go, Winograd), native-direct (pure Go, no
                 Winograd), dnnl or dnnl-winograd (oneDNN; built with -tags dnnl, needs
                 libdnnl-dev) (default $backend)
  --precisions L resgo's precisions, comma-separated: f32, bf16, int8 (default $precisions); each
                 gets its rows, with its ratio to PyTorch and to resgo's first precision
                 (int8: inference rows only, on random weights calibrated on random images)
  --out DIR      keep the raw JSON reports in DIR (default: a temporary directory, removed)
Environment: PYTHON (default /usr/bin/python3, the interpreter with torch),
  TUNED_MMAP_THRESHOLD / TUNED_TRIM_THRESHOLD (bytes; default $mmap_threshold / $trim_threshold).
EOF
}

need_int() {
	[[ $2 =~ ^[0-9]+$ ]] || { echo "compare.sh: $1 wants a non-negative integer, got '$2'" >&2; exit 2; }
}

while [[ $# -gt 0 ]]; do
	case $1 in
	--depth | --steps | --warmup | --threads | --b1-steps | --rounds)
		[[ $# -ge 2 ]] || { echo "compare.sh: $1 needs a value" >&2; exit 2; }
		need_int "$1" "$2"
		case $1 in
		--depth) depth=$2 ;; --steps) steps=$2 ;; --warmup) warmup=$2 ;;
		--threads) threads=$2 ;; --b1-steps) b1_steps=$2 ;; --rounds) rounds=$2 ;;
		esac
		shift 2 ;;
	--depth=* | --steps=* | --warmup=* | --threads=* | --b1-steps=* | --rounds=*)
		set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;
	--backend) [[ $# -ge 2 ]] || { echo "compare.sh: --backend needs a name" >&2; exit 2; }; backend=$2; shift 2 ;;
	--backend=*) backend=${1#*=}; shift ;;
	--precisions) [[ $# -ge 2 ]] || { echo "compare.sh: --precisions needs a list" >&2; exit 2; }; precisions=$2; shift 2 ;;
	--precisions=*) precisions=${1#*=}; shift ;;
	--out) [[ $# -ge 2 ]] || { echo "compare.sh: --out needs a directory" >&2; exit 2; }; out=$2; shift 2 ;;
	--out=*) out=${1#*=}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "compare.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done
b1_steps=${b1_steps:-$((10 * steps))}
IFS=, read -r -a precs <<<"$precisions"
((${#precs[@]} > 0)) || { echo "compare.sh: --precisions: give at least one of f32, bf16, int8" >&2; exit 2; }
for p in "${precs[@]}"; do
	[[ $p == f32 || $p == bf16 || $p == int8 ]] || { echo "compare.sh: --precisions: unknown precision '$p' (f32, bf16, int8)" >&2; exit 2; }
done
if ((steps == 0 || threads == 0 || b1_steps == 0 || rounds == 0)); then
	echo "compare.sh: --steps, --threads, --b1-steps and --rounds must be positive" >&2
	exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/resgo-compare.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [[ -n $out ]]; then
	mkdir -p "$out"
	res=$(cd "$out" && pwd)
else
	res=$tmp
fi

"$py" -c 'import torch' 2>/dev/null || {
	echo "compare.sh: $py cannot import torch (set PYTHON to the interpreter that has it)" >&2
	exit 1
}

log() { echo "compare.sh: $*" >&2; }

log "building resgo"
tags=()
[[ $backend == dnnl* ]] && tags=(-tags dnnl)
(cd "$root" && go build "${tags[@]}" -o "$tmp/resgo" ./cmd/resgo)

# The malloc variables are unset for every run but the tuned one.
plain_env=(env -u MALLOC_MMAP_THRESHOLD_ -u MALLOC_TRIM_THRESHOLD_)
common=(--warmup "$warmup" --threads "$threads")

load_before=$(cut -d' ' -f1 /proc/loadavg)
log "loadavg before: $(cut -d' ' -f1-3 /proc/loadavg)"
resgo_run() { # name, then resgo bench flags
	local name=$1
	shift
	log "round $round: resgo $name"
	"${plain_env[@]}" "$tmp/resgo" bench --json --base-depth "$depth" --backend "$backend" "${common[@]}" "$@" >"$res/resgo_$name.r$round.json"
}
pt_args=(--json --depth "$depth" "${common[@]}" --steps "$steps" --b1-steps "$b1_steps"
	--train-batches 100 --infer-batches 100,1)
for ((round = 1; round <= rounds; round++)); do
	for p in "${precs[@]}"; do
		if [[ $p != int8 ]]; then # int8 is for inference
			resgo_run "train_$p" --precision "$p" --modes train --batch-sizes 100 --steps "$steps"
		fi
		resgo_run "infer100_$p" --precision "$p" --modes infer --batch-sizes 100 --steps "$steps"
		resgo_run "infer1_$p" --precision "$p" --modes infer --batch-sizes 1 --steps "$b1_steps"
	done
	log "round $round: pytorch, default malloc"
	"${plain_env[@]}" "$py" "$root/bench/pytorch_bench.py" "${pt_args[@]}" >"$res/pytorch_default.r$round.json"
	log "round $round: pytorch, MALLOC_MMAP_THRESHOLD_=$mmap_threshold MALLOC_TRIM_THRESHOLD_=$trim_threshold"
	env MALLOC_MMAP_THRESHOLD_="$mmap_threshold" MALLOC_TRIM_THRESHOLD_="$trim_threshold" \
		"$py" "$root/bench/pytorch_bench.py" "${pt_args[@]}" >"$res/pytorch_tuned.r$round.json"
done
log "loadavg after: $(cut -d' ' -f1-3 /proc/loadavg)"

cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
export CMP_CPU=${cpu:-unknown} CMP_NPROC=$(nproc) CMP_GO=$(go version) \
	CMP_CORETYPE=${OPENBLAS_CORETYPE:-} CMP_STEPS=$steps CMP_B1_STEPS=$b1_steps CMP_WARMUP=$warmup \
	CMP_LOAD_BEFORE=$load_before CMP_THREADS=$threads CMP_ROUNDS=$rounds CMP_PRECISIONS=$precisions

"$py" - "$res" <<'EOF'
import json, os, sys

res = sys.argv[1]
def load(name):
    """The report of every round merged: per row, the fastest round's
    figures, with the highest peak RSS of any round."""
    reps = []
    for i in range(1, int(os.environ["CMP_ROUNDS"]) + 1):
        with open(os.path.join(res, "%s.r%d.json" % (name, i))) as f:
            reps.append(json.load(f))
    merged = dict(reps[0])
    merged["rows"] = []
    for r in reps[0]["rows"]:
        same = [x for rep in reps for x in rep["rows"] if x["mode"] == r["mode"] and x["batch"] == r["batch"]]
        best = dict(max(same, key=lambda x: x["images_per_s"]))
        best["peak_rss_mib"] = max(x["peak_rss_mib"] for x in same)
        merged["rows"].append(best)
    return merged

precs = os.environ["CMP_PRECISIONS"].split(",")
rgp = {p: {k: load("resgo_%s_%s" % (k, p)) for k in ("train", "infer100", "infer1") if k != "train" or p != "int8"}
       for p in precs}
rg = rgp[precs[0]]
pt = {k: load("pytorch_" + k) for k in ("default", "tuned")}
env = os.environ

def row(rep, mode, batch):
    for r in rep["rows"]:
        if r["mode"] == mode and r["batch"] == batch:
            return r
    raise SystemExit("compare.sh: no %s batch %d row in a report" % (mode, batch))

meas = [("train b100", "train", 100, rg["train"]),
        ("infer b100", "infer", 100, rg["infer100"]),
        ("infer b1", "infer", 1, rg["infer1"])]

r0, p0 = rg.get("train", rg["infer100"]), pt["default"]
print("machine:   %s, nproc %s" % (env["CMP_CPU"], env["CMP_NPROC"]))
print("go:        %s (resgo built with %s)" % (env["CMP_GO"], r0["go"]))
kernel = ", " + r0["kernel"] + " kernels" if r0.get("kernel") else ""
print("resgo:     %s, backend %s%s, %d threads, FMA peak %.1f GFLOP/s (%s)" % (
    r0["arch"], r0["backend"], kernel, r0["threads"], r0["fma_peak_gflops"], r0["fma_peak_isa"]))
print("pytorch:   %s, python %s, %d threads, mkldnn %s, pad %s" % (
    p0["torch"], p0["python"], p0["threads"], p0["mkldnn"], p0["pad"]))
print("OPENBLAS_CORETYPE: %s" % (env["CMP_CORETYPE"] or "(not set)"))
print("tuned malloc: " + " ".join("%s=%s" % kv for kv in sorted(pt["tuned"]["malloc_env"].items())))
print("model:     base depth %d, %d parameters, %d multiply-adds/image" % (
    p0["depth"], p0["params"], p0["macs_per_image"]))
print("steps:     %s timed (batch-1 inference %s), %s warm-up; best of %s round(s)" % (
    env["CMP_STEPS"], env["CMP_B1_STEPS"], env["CMP_WARMUP"], env["CMP_ROUNDS"]))
for name, rep in list(rg.items()) + list(pt.items()):
    if rep["macs_per_image"] != r0["macs_per_image"]:
        print("WARNING: %s counts %d multiply-adds/image, resgo train %d" % (
            name, rep["macs_per_image"], r0["macs_per_image"]))
load = float(env["CMP_LOAD_BEFORE"])
if load > 0.5:
    print("WARNING: load average %.2f before the runs: other processes compete for the cores, so these"
          " numbers (PyTorch's OpenMP threads above all) are not representative." % load)
print()

peak = r0["fma_peak_gflops"]
print("images/s (higher is better); ratio = resgo / best PyTorch (float32); vs %s = resgo / resgo %s" % (precs[0], precs[0]))
hdr = "%-16s %11s %13s %13s %8s %8s %11s %11s" % (
    "", "resgo", "torch dflt", "torch tuned", "ratio", "vs " + precs[0], "resgo %peak", "torch %peak")
print(hdr)
for p in precs:
    for label, mode, batch, _ in meas:
        key = {"train": "train", "infer": "infer100" if batch == 100 else "infer1"}[mode]
        if key not in rgp[p]:
            continue
        r = row(rgp[p][key], mode, batch)
        vs = "%7.2fx" % (r["images_per_s"] / row(rgp[precs[0]][key], mode, batch)["images_per_s"]) if key in rgp[precs[0]] else "%8s" % "-"
        d, t = row(pt["default"], mode, batch), row(pt["tuned"], mode, batch)
        best = max(d, t, key=lambda x: x["images_per_s"])
        print("%-16s %11.1f %13.1f %13.1f %7.2fx %s %10.1f%% %10.1f%%" % (
            label + " " + p, r["images_per_s"], d["images_per_s"], t["images_per_s"],
            r["images_per_s"] / best["images_per_s"], vs,
            100 * r["peak_fraction"], 100 * best["gflops"] / peak))
print()

print("batch-1 latency, ms per image (lower is better)")
d, t = row(pt["default"], "infer", 1), row(pt["tuned"], "infer", 1)
for p in precs:
    r = row(rgp[p]["infer1"], "infer", 1)
    print("%-16s %11.2f %13.2f %13.2f" % ("infer b1 " + p, r["ms_per_step"], d["ms_per_step"], t["ms_per_step"]))
print()

print("peak RSS, MiB (each row its own process)")
for p in precs:
    for label, mode, batch, _ in meas:
        key = {"train": "train", "infer": "infer100" if batch == 100 else "infer1"}[mode]
        if key not in rgp[p]:
            continue
        r = row(rgp[p][key], mode, batch)
        d, t = row(pt["default"], mode, batch), row(pt["tuned"], mode, batch)
        print("%-16s %11.0f %13.0f %13.0f" % (label + " " + p, r["peak_rss_mib"], d["peak_rss_mib"], t["peak_rss_mib"]))
EOF

if [[ -n $out ]]; then
	log "raw reports in $res"
fi
