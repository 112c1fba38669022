#!/usr/bin/env bash
# Downloads the official CIFAR-10 binary release (Krizhevsky 2009) over HTTPS, checks its
# md5 and unpacks it to data/cifar-10-batches-bin, the folder cnnlab looks in last.
# Does nothing when CIFAR10_DIR or data/cifar-10-batches-bin already holds a copy.
#
# Usage: bash scripts/get_cifar10.sh [destination folder, default data]
set -euo pipefail
cd "$(dirname "$0")/.."

URL=https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
MD5=c32a1d4ab5d03f1284b67883e8d87530
DEST=${1:-data}
FOLDER="$DEST/cifar-10-batches-bin"
ARCHIVE="$DEST/cifar-10-binary.tar.gz"
FILES=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin
       test_batch.bin batches.meta.txt)

complete() {  # complete FOLDER: every file present
  local f
  for f in "${FILES[@]}"; do [ -f "$1/$f" ] || return 1; done
}

md5_of() {
  if command -v md5sum >/dev/null; then md5sum "$1" | cut -d' ' -f1
  elif command -v md5 >/dev/null; then md5 -q "$1"
  else openssl md5 -r "$1" | cut -d' ' -f1
  fi
}

offline_help() {
  cat >&2 <<MSG
get_cifar10: could not download $URL
  ($1)
Without internet access, do one of these instead:
  - copy an existing cifar-10-batches-bin folder (data_batch_1..5.bin, test_batch.bin,
    batches.meta.txt) to $FOLDER, or
  - point cnnlab at it: export CIFAR10_DIR=/path/to/cifar-10-batches-bin
    (or set data.root in the run config), or
  - copy the archive cifar-10-binary.tar.gz (md5 $MD5) to $ARCHIVE and rerun this script
    to check and unpack it.
MSG
  exit 1
}

if [ -n "${CIFAR10_DIR:-}" ]; then
  if complete "$CIFAR10_DIR"; then
    echo "get_cifar10: CIFAR10_DIR=$CIFAR10_DIR already holds CIFAR-10; nothing to do."
    exit 0
  fi
  echo "get_cifar10: CIFAR10_DIR=$CIFAR10_DIR is not a complete copy; fetching into $FOLDER" \
       "(afterwards point CIFAR10_DIR there, or unset it)." >&2
fi
if complete "$FOLDER"; then
  echo "get_cifar10: $FOLDER already holds CIFAR-10; nothing to do."
  echo "  export CIFAR10_DIR=$(cd "$FOLDER" && pwd)"
  exit 0
fi

mkdir -p "$DEST"
if [ -f "$ARCHIVE" ] && [ "$(md5_of "$ARCHIVE")" = "$MD5" ]; then
  echo "get_cifar10: using the archive already at $ARCHIVE"
else
  echo "get_cifar10: downloading $URL (163 MB)"
  if command -v curl >/dev/null; then
    curl -fL -# --retry 2 --connect-timeout 20 -o "$ARCHIVE.part" "$URL" ||
      { rm -f "$ARCHIVE.part"; offline_help "curl failed"; }
  elif command -v wget >/dev/null; then
    wget -q --tries=2 --timeout=20 -O "$ARCHIVE.part" "$URL" ||
      { rm -f "$ARCHIVE.part"; offline_help "wget failed"; }
  else
    offline_help "neither curl nor wget is installed"
  fi
  mv "$ARCHIVE.part" "$ARCHIVE"
  actual=$(md5_of "$ARCHIVE")
  if [ "$actual" != "$MD5" ]; then
    echo "get_cifar10: $ARCHIVE has md5 $actual, expected $MD5: the download is damaged;" \
         "delete it and rerun." >&2
    exit 1
  fi
fi

tar -xzf "$ARCHIVE" -C "$DEST"
if ! complete "$FOLDER"; then
  echo "get_cifar10: unpacking $ARCHIVE did not produce $FOLDER with ${FILES[*]}" >&2
  exit 1
fi
echo "get_cifar10: CIFAR-10 is in $FOLDER"
echo "  export CIFAR10_DIR=$(cd "$FOLDER" && pwd)"
