#!/usr/bin/env bash
# One idempotent setup for a fresh machine: installs what the build and the tests need and skips
# what is already there. `npm start` and `npm test` call it first; it is safe to run any time.
#
# Pinned versions: wasm-bindgen-cli must equal the wasm-bindgen version in Cargo.lock (the CLI
# and the library share a schema); wasm-pack's own downloads from GitHub fail on our machines,
# so it finds wasm-bindgen (cargo install) and wasm-opt (npm's binaryen, via scripts/build.sh's
# PATH) instead.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_PACK_VERSION=0.15.1
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '[setup] %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

# --- Debian packages: headless Chromium + its driver (browser and end-to-end tests), Firefox ESR
#     (wasm-pack test --firefox). wasm-opt comes from npm's `binaryen` (pinned in package.json):
#     Debian's wasm-opt 108 writes a module whose externref table wasm-bindgen cannot use.
apt_needed=()
command -v chromium >/dev/null || apt_needed+=(chromium)
command -v chromedriver >/dev/null || apt_needed+=(chromium-driver)
command -v firefox-esr >/dev/null || command -v firefox >/dev/null || apt_needed+=(firefox-esr)
if [ ${#apt_needed[@]} -gt 0 ]; then
  log "apt-get install ${apt_needed[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${apt_needed[@]}" >/dev/null
fi

# --- Rust: the wasm target.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# --- The pinned nightly that builds the shipped wasm (scripts/toolchain.env says why), with
#     rust-src for -Zbuild-std. Host tests, clippy and wasm-pack test stay on stable.
source scripts/toolchain.env
if ! rustup run "$WASM_TOOLCHAIN" rustc --version >/dev/null 2>&1 ||
  ! rustup component list --toolchain "$WASM_TOOLCHAIN" --installed | grep -q '^rust-src' ||
  ! rustup target list --toolchain "$WASM_TOOLCHAIN" --installed | grep -qx wasm32-unknown-unknown; then
  log "rustup toolchain install $WASM_TOOLCHAIN (rust-src, wasm32)"
  rustup toolchain install "$WASM_TOOLCHAIN" --profile minimal --component rust-src \
    --target wasm32-unknown-unknown
fi

# --- wasm-bindgen-cli, exactly the version Cargo.lock resolved.
wb_version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
if [ -z "$wb_version" ]; then
  log "Cargo.lock has no wasm-bindgen; generating the lock file"
  cargo generate-lockfile
  wb_version=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
  log "cargo install wasm-bindgen-cli $wb_version (a few minutes)"
  # --locked first; the registry mirror may lack a patch release the CLI's own lock file names
  # (seen: webpki-roots 1.0.11), and then the unlocked resolution of the same CLI version works.
  cargo install --locked --quiet wasm-bindgen-cli --version "$wb_version" ||
    cargo install --quiet wasm-bindgen-cli --version "$wb_version"
fi

# --- wasm-pack.
if [ "$(wasm-pack --version 2>/dev/null | awk '{print $2}')" != "$WASM_PACK_VERSION" ]; then
  log "cargo install wasm-pack $WASM_PACK_VERSION (about 4 minutes)"
  cargo install --locked --quiet wasm-pack --version "$WASM_PACK_VERSION"
fi

# --- geckodriver for wasm-pack test --firefox.
if ! command -v geckodriver >/dev/null; then
  log "cargo install geckodriver"
  cargo install --locked --quiet geckodriver
fi

# --- npm dependencies (Playwright's library only: browsers come from Debian).
if [ -f package-lock.json ]; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "npm ci"
    npm ci --no-audit --no-fund --loglevel=error
  fi
elif [ ! -d node_modules ]; then
  log "npm install"
  npm install --no-audit --no-fund --loglevel=error
fi

log "ready"
