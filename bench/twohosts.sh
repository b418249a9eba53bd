#!/usr/bin/env bash
# Two "hosts" on one machine: two network namespaces joined by a veth pair,
# one rank of an MPI job in each, talking TCP over the pair's addresses
# only (Open MPI's btl tcp,self; no shared memory between them), against
# the same job on shared memory. The final checkpoints must be equal, bit
# for bit (two ranks sum in the same order whatever carries the bytes).
#
#   sudo bash bench/twohosts.sh [--steps N]      (root: it makes namespaces)
#
# Needs iproute2 (ip), openmpi-bin, libopenmpi-dev and Go; MNIST is fetched
# into a temporary directory as usual. Namespaces resgo-a and resgo-b and
# addresses 10.77.0.1-2/24 are made and removed.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=30
while [[ $# -gt 0 ]]; do
	case $1 in
	--steps) steps=$2; shift 2 ;;
	-h|--help) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "twohosts.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[[ $(id -u) == 0 ]] || { echo "twohosts.sh: run as root (it makes network namespaces)" >&2; exit 2; }

work=$(mktemp -d)
cleanup() {
	ip netns del resgo-a 2>/dev/null || true
	ip netns del resgo-b 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
cleanup_ns() { ip netns del resgo-a 2>/dev/null || true; ip netns del resgo-b 2>/dev/null || true; }
cleanup_ns

echo "twohosts: building resgo with MPI and ckverify"
go build -tags mpi -o "$work/resgo" ./cmd/resgo
go build -o "$work/ckverify" ./tools/ckverify

ip netns add resgo-a
ip netns add resgo-b
ip link add resgo-va type veth peer name resgo-vb
ip link set resgo-va netns resgo-a
ip link set resgo-vb netns resgo-b
ip -n resgo-a addr add 10.77.0.1/24 dev resgo-va
ip -n resgo-b addr add 10.77.0.2/24 dev resgo-vb
for ns in resgo-a resgo-b; do
	ip -n $ns link set lo up
done
ip -n resgo-a link set resgo-va up
ip -n resgo-b link set resgo-vb up

# mpirun (in resgo-a) reaches "host" 10.77.0.2 through this agent instead
# of ssh: it runs Open MPI's daemon inside resgo-b.
cat > "$work/agent" <<'AGENT'
#!/bin/sh
host=$1
shift
case $host in
10.77.0.2)
	echo "launched in resgo-b" >> "$(dirname "$0")/agent.log"
	exec ip netns exec resgo-b sh -c "$*" ;;
*) exec sh -c "$*" ;;
esac
AGENT
chmod +x "$work/agent"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
train=(train --data-dir "$work/MNIST_data" --steps "$steps" --save-every "$steps" --log-dir "" --eval-every 0
	--threads 1 --base-depth 16)
echo "twohosts: fetching MNIST"
"$work/resgo" train --data-dir "$work/MNIST_data" --steps 0 --checkpoint-dir "$work/none" >/dev/null 2>&1 || true

echo "twohosts: 2 ranks over TCP between the namespaces ($steps steps)"
start=$(date +%s)
ip netns exec resgo-a mpirun -np 2 --host 10.77.0.1:1,10.77.0.2:1 \
	--mca plm_rsh_agent "$work/agent" \
	--mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
	"$work/resgo" "${train[@]}" --checkpoint-dir "$work/tcp" > "$work/tcp.out"
echo "twohosts: TCP job took $(( $(date +%s) - start )) s"
grep -q "launched in resgo-b" "$work/agent.log" || { echo "twohosts: FAIL: no rank was started in resgo-b" >&2; exit 1; }

echo "twohosts: 2 ranks on shared memory ($steps steps)"
start=$(date +%s)
mpirun -np 2 --oversubscribe --mca btl self,vader "$work/resgo" "${train[@]}" --checkpoint-dir "$work/shm" > "$work/shm.out"
echo "twohosts: shared-memory job took $(( $(date +%s) - start )) s"

if ! cmp -s "$work/tcp.out" "$work/shm.out"; then
	diff "$work/tcp.out" "$work/shm.out" | head >&2
	echo "twohosts: FAIL: the jobs printed different losses" >&2
	exit 1
fi
last=$(printf 'mnist_model-%d.safetensors' "$steps")
"$work/ckverify" --same "$work/tcp/$last" "$work/shm/$last"
echo "twohosts: ok: $steps steps over TCP between two namespaces equal the shared-memory job, losses and checkpoint bit for bit"
