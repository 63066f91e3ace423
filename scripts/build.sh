#!/usr/bin/env bash
# `npm run build`: the wasm module (wasm-pack, release), then what ships:
#   pkg/       the wasm-bindgen glue and wasm, used by the npm package (js/index.js)
#   dist/      the script-tag build: scantrack.js (classic script) + scantrack_bg.wasm + sri.json
# and a size report. `--js-only` reuses pkg/ as it is (for work on js/ alone).
set -euo pipefail
cd "$(dirname "$0")/.."
# node_modules/.bin first: wasm-pack must find binaryen's wasm-opt from npm (version pinned in
# package.json), not Debian's wasm-opt 108, whose binary writer exports the wrong table for
# wasm-bindgen's `__wbindgen_externrefs` (the module then fails at start with "WebAssembly.Table.set():
# Argument 1 is invalid for table"). The check below keeps it that way.
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

if [ "${1:-}" != "--js-only" ]; then
  if [ "$(command -v wasm-opt)" != "$PWD/node_modules/.bin/wasm-opt" ]; then
    echo "build: binaryen's wasm-opt from npm is not installed (npm ci installs it); found: $(command -v wasm-opt || echo none)" >&2
    exit 1
  fi
  # The shipped wasm: wasm-pack (which runs wasm-bindgen from PATH) on the pinned nightly that
  # rebuilds std for size (scripts/toolchain.env), then wasm-opt with the flags kept there too.
  source scripts/toolchain.env
  # shellcheck disable=SC2086
  RUSTUP_TOOLCHAIN="$WASM_TOOLCHAIN" RUSTFLAGS="$WASM_RUSTFLAGS" \
    wasm-pack build . --release --no-opt --target web --out-dir pkg --out-name scantrack -- $WASM_CARGO_ARGS
  # shellcheck disable=SC2086
  wasm-opt $WASM_OPT_FLAGS pkg/scantrack_bg.wasm -o pkg/scantrack_bg.wasm
fi
if [ ! -f pkg/scantrack.js ] || [ ! -f pkg/scantrack_bg.wasm ]; then
  echo "build: pkg/scantrack.js or pkg/scantrack_bg.wasm is missing; run without --js-only" >&2
  exit 1
fi
if [ ! -x node_modules/.bin/esbuild ]; then
  echo "build: esbuild is not installed; run npm run setup (or npm ci)" >&2
  exit 1
fi

node scripts/build-dist.mjs
node scripts/size.mjs --no-budget
