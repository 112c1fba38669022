#!/usr/bin/env bash
# Sets up and builds cnnlab, then runs every test through ctest.
# CIFAR10_DIR defaults to the shared copy beside the project when it exists.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CIFAR10_DIR:-}" ] && [ -d ../shared/data/cifar-10-batches-bin ]; then
  export CIFAR10_DIR="$(cd ../shared/data/cifar-10-batches-bin && pwd)"
fi
bash scripts/setup.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j"$(nproc)"
