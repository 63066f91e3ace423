#!/usr/bin/env bash
# Every test, in pyramid order: format and lints, host tests (core, collector), browser tests
# (wasm-pack test in headless Chromium). Stops at the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

stage() { printf '\n=== %s\n' "$*"; }

stage "cargo fmt --check"
cargo fmt --all -- --check

stage "clippy (host)"
cargo clippy --workspace --all-targets --locked -- -D warnings

stage "clippy (wasm32)"
cargo clippy -p scantrack-core --target wasm32-unknown-unknown --lib --locked -- -D warnings
cargo clippy -p scantrack --target wasm32-unknown-unknown --lib --locked -- -D warnings
# The shipped build's features (scripts/toolchain.env): no Rust API, short JSON errors.
cargo clippy -p scantrack --target wasm32-unknown-unknown --lib --no-default-features --features small-alloc --locked -- -D warnings
cargo clippy -p scantrack-core --all-targets --no-default-features --locked -- -D warnings
# The browser tests drive js/host.js's API through scantrack_host() (feature host-api).
cargo clippy -p scantrack --target wasm32-unknown-unknown --all-targets --features host-api --locked -- -D warnings

stage "boundary: the core has no browser dependency"
if cargo tree -p scantrack-core --target wasm32-unknown-unknown -e normal --prefix none |
  grep -E '^(wasm-bindgen|web-sys|js-sys|gloo)' ; then
  echo "scantrack-core must not depend on browser crates" >&2
  exit 1
fi

stage "host tests"
cargo test --workspace --locked
# The core as the shipped wasm builds it (without json-detail: one short JSON error text).
cargo test -p scantrack-core --no-default-features --locked

stage "JavaScript host tests (node --test tests/js/)"
node --test tests/js/

stage "browser tests (wasm-pack test --headless --chrome)"
# Debian's chromedriver; webdriver.json adds --no-sandbox (we run as root) and the quiet flags.
CHROMEDRIVER=$(command -v chromedriver) WASM_BINDGEN_TEST_TIMEOUT=60 \
  wasm-pack test --headless --chrome . --locked --features small-alloc,host-api

stage "browser tests (wasm-pack test --headless --firefox)"
GECKODRIVER=$(command -v geckodriver) WASM_BINDGEN_TEST_TIMEOUT=90 \
  wasm-pack test --headless --firefox . --locked --features small-alloc,host-api

stage "build: wasm, pkg/ (npm) and dist/ (script tag)"
bash scripts/build.sh

stage "size: the ceiling is enforced (no growth), the 20,000-byte budget reported (README, Size)"
node scripts/size.mjs --ceiling

stage "npm package: npm pack, then a Vite build and esbuild bundle using it, run in Chromium"
bash scripts/check-pack.sh

stage "end to end: the snippet in headless Chromium against real collectors"
cargo build --profile collector --locked -p scantrack-collector
node --test --test-concurrency=1 tests/e2e/
