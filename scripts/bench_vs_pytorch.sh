#!/usr/bin/env bash
# cnnlab against PyTorch (CPU, 2 threads) on the same machine, in the same run.
# For each case both programs run alternately ROUNDS times (default 3); PyTorch's figure
# is the better of its default and channels_last layouts each round; the table gives
# medians and the ratio cnnlab / PyTorch, then each round's ratios. Installs python3-torch
# when missing.
# Usage: bash scripts/bench_vs_pytorch.sh [ROUNDS] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
STEPS=${2:-20}
THREADS=${THREADS:-2}
PY=/usr/bin/python3
if ! $PY -c "import torch" 2>/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q python3-torch
fi
[ -x build/cnnlab ] || bash scripts/setup.sh > /dev/null
export OMP_NUM_THREADS=$THREADS
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT

# case: name model norm batch precision (bf16: cnnlab --precision bf16 against PyTorch's
# torch.autocast('cpu', dtype=torch.bfloat16))
CASES=("vgg6-bn-b128 vgg6 batch 128 fp32" "vgg6-plain-b128 vgg6 none 128 fp32"
       "resnet20-bn-b128 resnet20 batch 128 fp32" "vgg6-bn-b32 vgg6 batch 32 fp32"
       "vgg6-bn-b128-bf16 vgg6 batch 128 bf16" "resnet20-bn-b128-bf16 resnet20 batch 128 bf16")
json_field() { $PY -c "import json,sys; print(json.loads(sys.stdin.read())['$1'])"; }
for round in $(seq "$ROUNDS"); do
  for c in "${CASES[@]}"; do
    read -r name model norm batch precision <<< "$c"
    extra=""; [ "$name" = vgg6-bn-b128 ] && extra="--norm-overhead"  # BN vs plain in turns
    ./build/cnnlab bench --config "configs/models/$model.yaml" --set "model.norm=$norm" \
      --batch "$batch" --steps "$STEPS" --threads "$THREADS" --precision "$precision" --json $extra \
      > "$TMP/ours.json"
    [ -n "$extra" ] && json_field norm_overhead_percent < "$TMP/ours.json" >> "$TMP/overhead"
    best_train=0; best_eval=0; rss=0
    for layout in contiguous channels_last; do
      $PY scripts/pytorch_bench.py "$model" "$norm" "$batch" "$layout" "$STEPS" "$THREADS" "$precision" \
        > "$TMP/pt.json"
      best_train=$($PY -c "print(max($best_train, $(json_field train_images_per_s < "$TMP/pt.json")))")
      best_eval=$($PY -c "print(max($best_eval, $(json_field eval_images_per_s < "$TMP/pt.json")))")
      rss=$($PY -c "print(max($rss, $(json_field peak_rss_mb < "$TMP/pt.json")))")
    done
    echo "$name $(json_field train_images_per_s < "$TMP/ours.json") $best_train \
$(json_field eval_folded_images_per_s < "$TMP/ours.json") $best_eval \
$(json_field peak_rss_mb < "$TMP/ours.json") $rss $(json_field median_step_ms < "$TMP/ours.json")" >> "$TMP/rows"
  done
done

$PY - "$TMP/rows" "$TMP/overhead" <<'PYEOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    rows.setdefault(f[0], []).append([float(v) for v in f[1:]])
print(f"{'case':18} {'cnnlab img/s':>12} {'torch img/s':>12} {'ratio':>6} | {'eval (folded)':>13} {'torch eval':>10} {'ratio':>6} | {'RSS MB':>7} {'torch MB':>8}")
med = {}
for name, values in rows.items():
    m = [statistics.median(col) for col in zip(*values)]
    med[name] = m
    print(f"{name:18} {m[0]:12.1f} {m[1]:12.1f} {m[0]/m[1]:6.2f} | {m[2]:13.1f} {m[3]:10.1f} {m[2]/m[3]:6.2f} | {m[4]:7.0f} {m[5]:8.0f}")
if "vgg6-bn-b128" in med and "vgg6-plain-b128" in med:
    ours = med["vgg6-bn-b128"][6] / med["vgg6-plain-b128"][6] - 1
    theirs = med["vgg6-plain-b128"][1] / med["vgg6-bn-b128"][1] - 1
    print(f"BN overhead on vgg6 step time: cnnlab {ours*100:.1f}%, PyTorch {theirs*100:.1f}% (medians above)")
    in_turns = [float(v) for v in open(sys.argv[2])]
    print(f"  cnnlab, BN and plain steps in turns in one process (cnnlab bench --norm-overhead): "
          f"{statistics.median(in_turns):.1f}% (rounds: {', '.join(f'{v:.1f}' for v in in_turns)})")
print(f"(medians of {len(next(iter(rows.values())))} alternating rounds; PyTorch: better of default and channels_last)")
# Each round's ratios: on a noisy host the spread says how far one median can be trusted.
print("ratio per round, training / evaluation (BN folded):")
for name, values in rows.items():
    print(f"  {name:18} " + "  ".join(f"{v[0]/v[1]:.2f}/{v[2]/v[3]:.2f}" for v in values))
PYEOF
