#!/usr/bin/env bash
# BN's train/eval statistics: each finished run's final weights evaluated with the running
# statistics (what a run reports) and with each eval batch's own statistics at batch 1, 2, 8,
# 32 and 256 (`cnnlab eval --use-batch-stats --batch-size B`, running statistics untouched).
# Prints a markdown table, one row per variant: the test accuracy's mean [min, max] over its
# seeds (run folders named <variant>-seed<k>, as an experiment with `seeds:` writes them).
#   bash scripts/bn_eval_stats.sh [--cnnlab build/cnnlab] RUN_DIR...
# Used for docs/results/bn_stats.md (CIFAR10_DIR set as for training):
#   bash scripts/bn_eval_stats.sh runs/study/bn_stats/momentum_*-seed*
set -euo pipefail
cnnlab=build/cnnlab
if [[ "${1:-}" == "--cnnlab" ]]; then cnnlab=$2; shift 2; fi
[[ $# -gt 0 ]] || { echo "usage: $0 [--cnnlab PATH] RUN_DIR..." >&2; exit 2; }
[[ -x "$cnnlab" ]] || { echo "$0: '$cnnlab' is not an executable cnnlab (build it or pass --cnnlab)" >&2; exit 2; }
batches=(1 2 8 32 256)
results=$(mktemp)
trap 'rm -f "$results" "$results.err"' EXIT
for run in "$@"; do
  for f in config.yaml checkpoint.safetensors; do
    [[ -f "$run/$f" ]] || { echo "$0: '$run' has no $f (not a finished cnnlab run folder)" >&2; exit 2; }
  done
  eval_acc() {  # the test accuracy; cnnlab's own error (e.g. no CIFAR10_DIR) when it fails
    local out
    out=$("$cnnlab" eval --config "$run/config.yaml" --weights "$run/checkpoint.safetensors" \
      --json "$@" 2>"$results.err") || { cat "$results.err" >&2; echo "$0: cnnlab eval failed on '$run'" >&2; exit 1; }
    python3 -c 'import json,sys; print(json.load(sys.stdin)["test_acc"])' <<<"$out"
  }
  line="$(basename "$run") running=$(eval_acc)"
  for b in "${batches[@]}"; do line+=" b$b=$(eval_acc --use-batch-stats --batch-size "$b")"; done
  echo "$line" | tee -a "$results" >&2
done
python3 - "$results" "${batches[@]}" <<'PY'
import re, sys
rows, columns = {}, ["running"] + ["b" + b for b in sys.argv[2:]]
for line in open(sys.argv[1]):
    name, *pairs = line.split()
    variant = re.sub(r"-seed\d+$", "", name)
    for pair in pairs:
        key, value = pair.split("=")
        rows.setdefault(variant, {}).setdefault(key, []).append(float(value) * 100)
def shown(values):
    mean = sum(values) / len(values)
    return f"{mean:.2f}%" + (f" [{min(values):.2f}, {max(values):.2f}]" if len(values) > 1 else "")
print("| variant | seeds | running statistics | " +
      " | ".join("batch statistics, eval batch " + c[1:] for c in columns[1:]) + " |")
print("|---" * (len(columns) + 2) + "|")
for variant, figures in rows.items():
    print(f"| {variant} | {len(figures['running'])} | " +
          " | ".join(shown(figures[c]) for c in columns) + " |")
PY
