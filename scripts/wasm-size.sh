#!/usr/bin/env bash
# Size work bench: builds the release wasm exactly as `npm run build` does (pinned nightly,
# std rebuilt with panic=immediate-abort and optimize_for_size, wasm-bindgen, wasm-opt -Oz),
# into its own target dir, and prints the brotli bytes of the wasm and of the JS glue, plus
# twiggy's top items when asked. Nothing in pkg/ or dist/ is touched.
#   scripts/wasm-size.sh [--target-dir DIR] [--top N]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
source scripts/toolchain.env
TARGET_DIR=target/size
TOP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --target-dir) TARGET_DIR="$2"; shift 2 ;;
    --top) TOP="$2"; shift 2 ;;
    *) echo "wasm-size: unknown argument $1" >&2; exit 2 ;;
  esac
done
OUT="$TARGET_DIR/out"
mkdir -p "$OUT"
RUSTFLAGS="$WASM_RUSTFLAGS" cargo "+$WASM_TOOLCHAIN" build --release --lib -p scantrack \
  --target wasm32-unknown-unknown --target-dir "$TARGET_DIR" $WASM_CARGO_ARGS >&2
wasm-bindgen --target web --out-dir "$OUT" --out-name scantrack \
  "$TARGET_DIR/wasm32-unknown-unknown/release/scantrack.wasm"
# shellcheck disable=SC2086
wasm-opt $WASM_OPT_FLAGS "$OUT/scantrack_bg.wasm" -o "$OUT/opt.wasm"
wasm-opt -g $WASM_OPT_FLAGS "$OUT/scantrack_bg.wasm" -o "$OUT/named.wasm"
node -e '
const fs = require("fs"), z = require("zlib");
const br = (f) => z.brotliCompressSync(fs.readFileSync(f), {params: {[z.constants.BROTLI_PARAM_QUALITY]: 11}}).length;
for (const f of process.argv.slice(1)) console.log(f.padEnd(40), String(fs.statSync(f).size).padStart(8), "raw", String(br(f)).padStart(7), "brotli");
' "$OUT/opt.wasm" "$OUT/scantrack.js"
if [ "$TOP" != 0 ]; then twiggy top -n "$TOP" "$OUT/named.wasm"; fi
