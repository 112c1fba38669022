#!/usr/bin/env bash
# Sets up and builds cnnlab, installs ONNX Runtime for the export tests, then runs every
# test through ctest.
# CIFAR10_DIR defaults to the shared copy beside the project when it exists.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CIFAR10_DIR:-}" ] && [ -d ../shared/data/cifar-10-batches-bin ]; then
  export CIFAR10_DIR="$(cd ../shared/data/cifar-10-batches-bin && pwd)"
fi
bash scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
# ONNX Runtime for the export tests, into the build folder (never committed). The package
# ships its CPU binary in the npm tarball; the skip flag stops its install script fetching
# the GPU ones from elsewhere.
ORT_DIR="$BUILD_DIR/onnx_tools"
if ! command -v npm >/dev/null; then  # a machine with a Node.js of its own keeps it
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends nodejs npm
fi
ORT_VERSION=1.30.0
if [ ! -f "$ORT_DIR/node_modules/onnxruntime-node/package.json" ] ||
   ! grep -q "\"version\": \"$ORT_VERSION\"" "$ORT_DIR/node_modules/onnxruntime-node/package.json"; then
  echo "setup: installing onnxruntime-node@$ORT_VERSION into $ORT_DIR"
  mkdir -p "$ORT_DIR"
  npm install --prefix "$ORT_DIR" --no-save --no-audit --no-fund \
      "onnxruntime-node@$ORT_VERSION" --onnxruntime-node-install=skip
fi

# playwright-core (no browser download: it drives Debian's /usr/bin/chromium) for the
# dashboard's browser test, into the build folder as well.
BROWSER_DIR="$BUILD_DIR/browser_tools"
PLAYWRIGHT_VERSION=1.65.1
if [ ! -f "$BROWSER_DIR/node_modules/playwright-core/package.json" ] ||
   ! grep -q "\"version\": \"$PLAYWRIGHT_VERSION\"" "$BROWSER_DIR/node_modules/playwright-core/package.json"; then
  echo "setup: installing playwright-core@$PLAYWRIGHT_VERSION into $BROWSER_DIR"
  mkdir -p "$BROWSER_DIR"
  npm install --prefix "$BROWSER_DIR" --no-save --no-audit --no-fund "playwright-core@$PLAYWRIGHT_VERSION"
fi

ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)"
