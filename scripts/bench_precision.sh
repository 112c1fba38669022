#!/bin/bash
# fp32 against bf16 (train.precision, docs/precision.md): `cnnlab bench` on a model, runs
# interleaved (fp32, bf16, bf16 and fp32 with conv_algorithm im2col, ...) so a busy machine
# slows all alike; prints the best (min-time) images/s of each over the rounds. bf16_im2col is
# bf16 before oneDNN's convolutions (every conv through im2col and the bf16 GEMMs).
#   bash scripts/bench_precision.sh [ROUNDS=3] [STEPS=10] [MODEL=vgg6] [BATCH=128] [THREADS=2]
set -euo pipefail
rounds=${1:-3} steps=${2:-10} model=${3:-vgg6} batch=${4:-128} threads=${5:-2}
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for round in $(seq "$rounds"); do
  for variant in fp32 bf16 bf16_im2col fp32_im2col; do
    args=(--precision "${variant%%_*}")
    [[ $variant == *_im2col ]] && args+=(--set model.conv_algorithm=im2col)
    ./build/cnnlab bench --config "configs/models/$model.yaml" --batch "$batch" --threads "$threads" \
      --steps "$steps" --json "${args[@]}" > "$out/$variant.$round.json"
  done
done
python3 - "$out" "$rounds" <<'PY'
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
best = {}
for variant in ("fp32", "bf16", "bf16_im2col", "fp32_im2col"):
    runs = [json.load(open(f"{out}/{variant}.{r}.json")) for r in range(1, rounds + 1)]
    best[variant] = {k: max(r[k] for r in runs) for k in
                     ("train_images_per_s", "eval_images_per_s", "eval_folded_images_per_s")}
    best[variant]["peak_rss_mb"] = min(r["peak_rss_mb"] for r in runs)
print(f"{'':14} {'train img/s':>12} {'eval img/s':>12} {'eval folded':>12} {'peak MB':>8}")
for variant, b in best.items():
    print(f"{variant:14} {b['train_images_per_s']:12.1f} {b['eval_images_per_s']:12.1f} "
          f"{b['eval_folded_images_per_s']:12.1f} {b['peak_rss_mb']:8.0f}")
for key in ("train_images_per_s", "eval_images_per_s", "eval_folded_images_per_s"):
    print(f"bf16 / fp32 {key}: {best['bf16'][key] / best['fp32'][key]:.2f}x, "
          f"bf16 / fp32 im2col: {best['bf16'][key] / best['fp32_im2col'][key]:.2f}x, "
          f"bf16 / bf16 im2col: {best['bf16'][key] / best['bf16_im2col'][key]:.2f}x")
bf16 = json.load(open(f"{out}/bf16.1.json"))
print(bf16["kernels"])
print(bf16.get("onednn_conv_kernels", "no oneDNN convolution ran"))
PY
