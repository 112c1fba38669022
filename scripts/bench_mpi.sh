#!/usr/bin/env bash
# Data-parallel throughput on one node: 2 ranks x 1 thread against 1 rank x 2 threads, in
# turns, ROUNDS times (default 3), medians. Each case is `cnnlab bench --json` (under
# `mpirun -np 2` for the 2-rank ones, on shared memory); the 2-rank rows also give the
# gradient allreduce per step and the part of it the step waited for after the backward,
# for each way of overlapping it (dist.overlap: thread, iallreduce, none).
# Usage: bash scripts/bench_mpi.sh [ROUNDS] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
STEPS=${2:-20}
PY=/usr/bin/python3
[ -x build/cnnlab ] || bash scripts/setup.sh > /dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=(mpirun -np 2 --bind-to none --mca btl self,vader,tcp -x OMP_NUM_THREADS=1)
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT

# case: net per-rank-batch ranks overlap
CASES=()
for net in vgg6 resnet20; do
  CASES+=("$net 128 1 -" "$net 64 2 thread" "$net 64 2 iallreduce" "$net 64 2 none"
          "$net 128 2 thread")
done
for round in $(seq "$ROUNDS"); do
  for c in "${CASES[@]}"; do
    read -r net batch ranks overlap <<< "$c"
    args=(bench --config "configs/models/$net.yaml" --batch "$batch" --steps "$STEPS" --json)
    if [ "$ranks" = 1 ]; then
      OMP_NUM_THREADS=2 ./build/cnnlab "${args[@]}" --threads 2 > "$TMP/out.json"
    else
      "${MPIRUN[@]}" ./build/cnnlab "${args[@]}" --threads 1 --set "dist.overlap=$overlap" \
        > "$TMP/out.json"
    fi
    $PY - "$c" "$TMP/out.json" >> "$TMP/rows" <<'EOF'
import json, sys
r = json.load(open(sys.argv[2]))
ranks = r.get("ranks", 1)
print(sys.argv[1].replace(" ", "|"), ranks * r["train_images_per_s"], r["median_step_ms"],
      r.get("communication_step_ms", 0), r.get("exposed_communication_step_ms", 0))
EOF
  done
done
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores;" \
     "Open MPI $(mpirun --version | head -1 | awk '{print $NF}'); medians of $ROUNDS rounds"
$PY - "$TMP/rows" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    key, *values = line.split()
    rows.setdefault(key, []).append([float(v) for v in values])
def med(key, i):
    return statistics.median(v[i] for v in rows[key])
print(f"{'net':9} {'ranks x threads':15} {'batch/rank':>10} {'overlap':>10} {'global img/s':>12}"
      f" {'step ms':>8} {'allreduce ms':>12} {'exposed ms':>10} {'vs 1x2':>7}")
for key in rows:
    net, batch, ranks, overlap = key.split("|")
    base = med(f"{net}|128|1|-", 0)
    print(f"{net:9} {ranks + ' x ' + ('2' if ranks == '1' else '1'):15} {batch:>10} {overlap:>10}"
          f" {med(key, 0):12.1f} {med(key, 1):8.2f} {med(key, 2):12.2f} {med(key, 3):10.2f}"
          f" {med(key, 0) / base:7.2f}")
EOF
