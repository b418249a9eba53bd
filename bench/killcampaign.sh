#!/usr/bin/env bash
# killcampaign.sh: kill -9 campaign against `resgo train`, proving that an
# interrupted-and-resumed training run never loses or corrupts work.
#
# Usage: bash bench/killcampaign.sh [-n N] [--seed S] [--data-dir DIR] [--keep] [--help]
#
#   -n N            kill iterations (default 30)
#   --seed S        seed of the random delays (bash RANDOM; default: from the clock); printed
#   --data-dir DIR  shared MNIST directory (default $RESGO_DATA_DIR, else MNIST_data in the
#                   repository root); resgo fetches MNIST there the first time
#   --keep          keep the work directory (it is always kept after a failure)
#
# It builds ./cmd/resgo and ./tools/ckverify into a temp dir, times an uninterrupted
# reference run of a small, deterministic training (60 steps, a checkpoint every 5), then
# N times: (re)starts the same command in a run directory, kills it with SIGKILL after a
# random delay (or, half the time, as soon as a checkpoint temp file appears after a
# random delay: mid-write), waits for it, and checks with ckverify --allow-temps that every
# checkpoint present is valid and that no checkpoint the run reported saved was lost. The
# next iteration resumes the killed run, so progress accumulates; when a run reaches the
# last step, its final checkpoint must equal the reference's bit for bit (ckverify --same),
# its directory must be clean, and every loss line it printed must equal the reference's;
# then a fresh run starts. After the N kills the current run is finished uninterrupted and
# checked the same way. Exit status 1 on any failure, 2 on a usage error.
#
# Every wait is bounded; with -n 3 the whole campaign takes well under a minute once
# MNIST is present and the binaries are cached.
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

iters=30
seed=""
data_dir="${RESGO_DATA_DIR:-}"
keep=0
while (($#)); do
	case "$1" in
	-n) iters="${2:?-n needs a number}"; shift 2 ;;
	--seed) seed="${2:?--seed needs a number}"; shift 2 ;;
	--data-dir) data_dir="${2:?--data-dir needs a directory}"; shift 2 ;;
	--keep) keep=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "killcampaign: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
[[ $iters =~ ^[0-9]+$ ]] || { echo "killcampaign: -n wants a count" >&2; exit 2; }
[[ -z $seed || $seed =~ ^[0-9]+$ ]] || { echo "killcampaign: --seed wants a number" >&2; exit 2; }
((BASH_VERSINFO[0] >= 5)) || { echo "killcampaign: needs bash 5 (EPOCHREALTIME)" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
data_dir=${data_dir:-$repo/MNIST_data}
mkdir -p "$data_dir"
data_dir=$(cd "$data_dir" && pwd)

seed=${seed:-$((${EPOCHREALTIME/./} % 1000000))}
RANDOM=$seed
echo "killcampaign: seed $seed, $iters iterations, MNIST in $data_dir"

work=$(mktemp -d "${TMPDIR:-/tmp}/killcampaign.XXXXXX")
child=""
failures=0
cleanup() {
	if [[ -n $child ]]; then kill -9 "$child" 2>/dev/null || true; fi
	if ((failures == 0 && keep == 0)); then rm -rf "$work"; else echo "killcampaign: work directory kept: $work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
rand() { echo $(((RANDOM * 32768 + RANDOM) % $1)); } # uniform-ish in [0, $1)
secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
fail() { failures=$((failures + 1)); echo "FAIL: $*"; }
# temps DIR: the temp files of checkpoint and index writes in DIR, sorted (not resgo's
# startup probe of the directory, .tmp-probe-*, which is no checkpoint write).
temps() { (shopt -s nullglob; cd "$1" 2>/dev/null || exit 0; for f in .tmp-*; do [[ $f == .tmp-probe-* ]] || echo "$f"; done) | sort; }
newest_step() { # newest checkpoint step in $1, or -1
	local f s best=-1
	for f in "$1"/*-[0-9]*.safetensors; do
		[[ -e $f ]] || continue
		s=${f##*-}; s=${s%.safetensors}
		((10#$s > best)) && best=$((10#$s))
	done
	echo "$best"
}

echo "killcampaign: building resgo and ckverify into $work/bin"
go build -o "$work/bin/resgo" ./cmd/resgo
go build -o "$work/bin/ckverify" ./tools/ckverify
ckv="$work/bin/ckverify"

steps=60
# Few flags, so that CLI changes rarely break this script.
train_args=(train --base-depth 8 --steps "$steps" --save-every 5 --train-limit 2000 --batch-size 50
	--eval-every 0 --threads 1 --data-dir "$data_dir")

# start_seg DIR LOG OUT: starts a training segment in the background; sets child. A simple
# command, so the background job execs resgo itself and $! is resgo's pid (kill -9 must hit
# resgo, not a subshell that would leave it running).
start_seg() {
	mkdir -p "${3%/*}"
	"$work/bin/resgo" "${train_args[@]}" --checkpoint-dir "$1" --log-dir "$2" >"$3.out" 2>"$3.err" &
	child=$!
}
# wait_seg: reaps child (silently: no "Killed" notice); sets seg_rc.
wait_seg() {
	seg_rc=0
	wait "$child" 2>/dev/null || seg_rc=$?
	child=""
}
# run_to_end DIR LOG OUT LIMIT_MS: an uninterrupted segment, killed (and failed) past LIMIT_MS.
run_to_end() {
	local deadline=$(($(now_ms) + $4))
	start_seg "$1" "$2" "$3"
	while kill -0 "$child" 2>/dev/null && (($(now_ms) < deadline)); do sleep 0.05; done
	if kill -0 "$child" 2>/dev/null; then
		kill -9 "$child" 2>/dev/null || true
		fail "$3: still running after $(secs "$4") s; killed"
	fi
	wait_seg
}

# ---- reference run ----------------------------------------------------------------
ref="$work/ref"
had_data=$(compgen -G "$data_dir/train-images-idx3-ubyte*" >/dev/null && echo 1 || echo 0)
t0=$(now_ms)
run_to_end "$ref/ck" "$ref/log" "$ref/run" 600000
ref_ms=$(($(now_ms) - t0))
((seg_rc == 0)) || { fail "reference run exited $seg_rc:"; tail -5 "$ref/run.err"; exit 1; }
if ((had_data == 0)); then # the first run fetched MNIST: time a second one
	rm -rf "$ref"
	t0=$(now_ms)
	run_to_end "$ref/ck" "$ref/log" "$ref/run" 600000
	ref_ms=$(($(now_ms) - t0))
	((seg_rc == 0)) || { fail "reference run exited $seg_rc"; exit 1; }
fi
ref_final="$ref/ck/mnist_model-$steps.safetensors"
"$ckv" "$ref/ck" >/dev/null || { fail "reference checkpoints do not verify:"; "$ckv" "$ref/ck"; exit 1; }
declare -A ref_loss=()
while IFS= read -r line; do
	[[ $line =~ ^After\ ([0-9]+)\ training\ step ]] && ref_loss[${BASH_REMATCH[1]}]=$line
done <"$ref/run.out"
[[ -n ${ref_loss[$steps]:-} ]] || { fail "reference printed no loss line for step $steps"; exit 1; }
echo "killcampaign: reference run $(secs "$ref_ms") s; ${ref_loss[$steps]}"

# ---- campaign ---------------------------------------------------------------------
lo_ms=200
hi_ms=$((ref_ms > lo_ms + 100 ? ref_ms : lo_ms + 100))
kills=0 aimed=0 midwrite=0 validated=0 completed=0 identical=0 loss_checked=0
run_id=0 seg=0
new_run() {
	run_id=$((run_id + 1)) seg=0
	run="$work/run$run_id"
	max_seen=-1
}
new_run

# check_completed: a run that reached the last step must equal the reference.
check_completed() {
	completed=$((completed + 1))
	local out ok=1 f line k
	if ! out=$("$ckv" "$run/ck" 2>&1); then fail "completed run $run_id: directory does not verify clean:"; echo "$out"; ok=0; fi
	if ! out=$("$ckv" --same "$ref_final" "$run/ck/mnist_model-$steps.safetensors" 2>&1); then
		fail "completed run $run_id differs from the reference: $out"
		ok=0
	fi
	local last=""
	for f in "$run"/seg*.out; do
		while IFS= read -r line; do # only newline-terminated lines: a kill may cut the last one
			[[ $line =~ ^After\ ([0-9]+)\ training\ step ]] || continue
			k=${BASH_REMATCH[1]}
			loss_checked=$((loss_checked + 1))
			if [[ $line != "${ref_loss[$k]:-}" ]]; then
				fail "run $run_id $(basename "$f"): '$line' but the reference printed '${ref_loss[$k]:-nothing}'"
				ok=0
			fi
			((k == steps)) && last=$line
		done <"$f"
	done
	if [[ $last != "${ref_loss[$steps]}" ]]; then fail "run $run_id: last loss line '$last'"; ok=0; fi
	((ok)) && identical=$((identical + 1))
	echo "  run $run_id completed after $seg segment(s): $([[ $ok == 1 ]] && echo "bit-identical to the reference" || echo DIFFERENT)"
}

# after_segment LABEL: checks a segment just reaped (seg_rc set); returns 1 if the run completed.
after_segment() {
	local label=$1 out n newest reported line temps_after
	if grep -q "skipping unreadable checkpoint" "$run/seg$seg.err"; then
		fail "$label: resgo found an unreadable checkpoint:"; grep "skipping unreadable" "$run/seg$seg.err"
	fi
	if ((seg_rc != 0 && seg_rc != 137)); then
		fail "$label: resgo exited $seg_rc:"; tail -5 "$run/seg$seg.err"
	fi
	if [[ -d $run/ck ]]; then
		if out=$("$ckv" --allow-temps "$run/ck" 2>&1); then :; else fail "$label: ckverify:"; echo "$out"; fi
		n=$(grep -cE '^ok .* step [0-9]+, [0-9]+ tensors$' <<<"$out" || true)
		validated=$((validated + n))
	fi
	newest=$(newest_step "$run/ck")
	# Never lose work: the newest checkpoint is at least the newest one seen before and
	# the last one this segment reported saved (or resumed from).
	reported=$(grep -E 'saved |resuming from ' "$run/seg$seg.err" | grep -oE -- '-[0-9]+\.safetensors' | tail -1 | tr -dc 0-9 || true)
	reported=${reported:--1}
	if ((newest < max_seen || newest < reported)); then
		fail "$label: lost work: newest checkpoint $newest, earlier newest $max_seen, last reported $reported"
	fi
	((newest > max_seen)) && max_seen=$newest
	line=$(grep -E '^After [0-9]+ training step' "$run/seg$seg.out" | tail -1 | grep -oE '^After [0-9]+' || true)
	if ((seg_rc == 137)); then
		kills=$((kills + 1))
		((caught)) && aimed=$((aimed + 1))
		temps_after=$(temps "$run/ck")
		local fresh_temp=""
		[[ -n $temps_after ]] && fresh_temp=$(comm -13 <(echo "$temps_before") <(echo "$temps_after"))
		[[ -n $fresh_temp ]] && midwrite=$((midwrite + 1))
		echo "  $label: killed at ${line:-startup} (newest checkpoint $newest)$([[ -n $fresh_temp ]] && echo ", mid-write: $(echo $fresh_temp)"), ${n:-0} checkpoint(s) valid"
		return 0
	fi
	# Completed: possibly with no step left to do (the previous segment was killed after
	# saving the last step but before exiting).
	((seg_rc == 0)) && [[ $newest == "$steps" ]] && { check_completed; return 1; }
	((seg_rc == 0)) && fail "$label: resgo exited 0 at ${line:-no step}, newest checkpoint $newest"
	return 0
}

t_start=$(now_ms)
for ((i = 1; i <= iters; i++)); do
	seg=$((seg + 1))
	mkdir -p "$run"
	temps_before=$(temps "$run/ck")
	delay=$((lo_ms + $(rand $((hi_ms - lo_ms)))))
	mode=delay caught=0
	(($(rand 2) == 0)) && mode=midwrite
	start_seg "$run/ck" "$run/log" "$run/seg$seg"
	# Sleep out the delay, or until the process ends by itself.
	until_us=$((${EPOCHREALTIME/./} + 1000 * delay))
	while kill -0 "$child" 2>/dev/null && ((${EPOCHREALTIME/./} < until_us)); do sleep 0.02; done
	if [[ $mode == midwrite ]]; then
		# Then kill once a new temp file has appeared (a checkpoint or index write): after a
		# random number of further polls, 0 to 2^k for k uniform in 0..11 (a poll takes
		# ~10-100 us, a checkpoint write with its fsync ~1-100 ms), so that kills land at
		# various points of the write, or right after the temp file goes away (renamed),
		# whichever comes first. No forks in this loop.
		declare -A before=()
		for f in $temps_before; do before[$f]=1; done
		deadline=$((${EPOCHREALTIME/./} + 1000 * (hi_ms + 2000))) extra=$(rand $((1 << $(rand 12)))) n=0
		while kill -0 "$child" 2>/dev/null; do
			seen=0
			for f in "$run"/ck/.tmp-*; do
				[[ -e $f && $f != */.tmp-probe-* && -z ${before[${f##*/}]:-} ]] && { seen=1; break; }
			done
			if ((seen)); then
				caught=1
				((n >= extra)) && break
				n=$((n + 1))
			elif ((n > 0 || ${EPOCHREALTIME/./} > deadline)); then
				break
			fi
		done
		unset before
	fi
	kill -9 "$child" 2>/dev/null || true
	wait_seg
	if ! after_segment "iter $i/$iters ($mode $(secs "$delay") s, run $run_id seg $seg)"; then
		new_run
	fi
done

# Finish the run in progress, uninterrupted, and check it like any completed run.
if (($(newest_step "$run/ck") >= 0)); then
	seg=$((seg + 1)) caught=0
	temps_before=$(temps "$run/ck")
	run_to_end "$run/ck" "$run/log" "$run/seg$seg" $((4 * ref_ms + 30000))
	if after_segment "final resume (run $run_id seg $seg)"; then
		fail "final resume of run $run_id did not complete (exit $seg_rc)"
	fi
fi
t_total=$(($(now_ms) - t_start))

echo
echo "killcampaign: seed $seed, $iters iterations in $(secs "$t_total") s (reference run $(secs "$ref_ms") s)"
echo "  kills:                         $kills"
echo "  kills aimed at a write:        $aimed (after its temp file appeared)"
echo "  kills with a temp file present: $midwrite (mid-write)"
echo "  checkpoints validated:         $validated"
echo "  completed runs:                $completed"
echo "  bit-identical to reference:    $identical"
echo "  loss lines checked:            $loss_checked"
echo "  failures:                      $failures"
((failures == 0)) || exit 1
