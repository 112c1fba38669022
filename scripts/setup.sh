#!/usr/bin/env bash
# Installs the Debian packages cnnlab needs (idempotent), then configures and builds.
# Usage: bash scripts/setup.sh [extra cmake args...]   (BUILD_DIR=build by default)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake pkg-config libopenblas-dev libstb-dev libcli11-dev
          libspdlog-dev catch2 libyaml-cpp-dev libsoci-dev libboost-dev libsqlite3-dev nlohmann-json3-dev
          gnuplot-nox
          # cnnlab export writes ONNX through the ONNX project's protobuf classes; the tests
          # check the files with the ONNX checker (python3-onnx) and run them with ONNX
          # Runtime under node (onnxruntime-node from npm, below)
          libonnx-dev libprotobuf-dev python3-onnx
          # data-parallel training (apps/distributed): Open MPI
          openmpi-bin libopenmpi-dev
          # oneDNN's sgemm, one of the GEMM providers core/gemm.cpp dispatches to
          libdnnl-dev
          # the run store's MySQL/MariaDB/TiDB backend (SOCI's mysql backend is in libsoci-dev)
          # and the MariaDB server the store tests start (tests/store/mariadb_fixture.sh)
          libmariadb3 mariadb-server-core mariadb-client-core
          # cnnlab serve's HTTP server; its browser test drives Chromium (playwright-core
          # from npm, in scripts/test.sh)
          libcpp-httplib-dev chromium
          # scripts/sanitize.sh and scripts/fuzz.sh (CI): clang, libFuzzer, clang's OpenMP
          clang libclang-rt-14-dev libomp-dev)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$BUILD_DIR" -j"$(nproc)"

