#!/usr/bin/env bash
# `npm run check-pack`: proves the npm package works for a user. It packs the repository root
# (`npm pack`), checks that the tarball holds exactly what ships, installs it into a fresh Vite
# app and builds that app with no plugin, type-checks a strict TypeScript file against the
# package's types, bundles it with esbuild (`--loader:.wasm=file`), and, when Chromium is
# present, runs the Vite build in headless Chromium: init() must resolve to a working tracker
# and track() must return an event id.
#
# Needs pkg/ (it runs the build when pkg/ is missing) and the npm registry (vite, typescript).
#   KEEP=1                     keep the temporary directory and print its path
#   SCANTRACK_SKIP_BROWSER=1   skip the Chromium step
#   SCANTRACK_VITE_VERSION=8   check with another Vite major (default 7)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VITE_VERSION=${SCANTRACK_VITE_VERSION:-7}
TYPESCRIPT_VERSION=5

log() { printf '[check-pack] %s\n' "$*"; }
die() { printf '[check-pack] FAIL: %s\n' "$*" >&2; exit 1; }

[ -f pkg/scantrack.js ] && [ -f pkg/scantrack_bg.wasm ] || bash scripts/build.sh

TMP=$(mktemp -d "${TMPDIR:-/tmp}/scantrack-pack.XXXXXX")
if [ "${KEEP:-}" = 1 ]; then log "keeping $TMP"; else trap 'rm -rf "$TMP"' EXIT; fi

# --- 1. the tarball holds what ships, and nothing else.
log "npm pack"
TARBALL="$TMP/$(npm pack --silent --pack-destination "$TMP" | tail -n 1)"
[ -f "$TARBALL" ] || die "npm pack produced no tarball"
tar -tzf "$TARBALL" | sed 's|^package/||' | sort > "$TMP/contents.txt"
for f in package.json js/index.js js/core.js js/host.js pkg/scantrack.js pkg/scantrack_bg.wasm types/index.d.ts; do
  grep -qx "$f" "$TMP/contents.txt" || die "the tarball lacks $f"
done
if grep -vxE 'package\.json|js/(index|core|host)\.js|pkg/scantrack(\.js|_bg\.wasm)|types/index\.d\.ts|(README|LICEN[CS]E|LICENSE-[A-Z]+|CHANGELOG)(\.md|\.txt)?' "$TMP/contents.txt"; then
  die "the tarball holds files that should not ship (listed above); fix \"files\" in package.json"
fi
log "tarball: $(basename "$TARBALL"), $(wc -l < "$TMP/contents.txt") files, $(wc -c < "$TARBALL") bytes"

# --- 2. a fresh Vite app that uses the package the way the README shows.
APP="$TMP/app"
mkdir -p "$APP"
cat > "$APP/package.json" <<'EOF'
{ "name": "scantrack-pack-check", "private": true, "type": "module" }
EOF
cat > "$APP/index.html" <<'EOF'
<!doctype html>
<html><head><meta charset="utf-8"><title>scantrack pack check</title></head>
<body><script type="module" src="/main.js"></script></body></html>
EOF
cat > "$APP/main.js" <<'EOF'
import { init } from "scantrack";

const result = { error: "init did not settle" };
window.__result = result;
init({ siteId: "site_demo", endpoint: location.origin, autoPageview: false }).then((tracker) => {
  result.error = tracker.error;
  result.eventId = tracker.track("pack_check", { plan: "pro" }, { amount: 1.5, currency: "EUR" });
  result.sessionId = tracker.sessionId();
  tracker.identify({ email: "ada@example.com" });
  const circular = {};
  circular.self = circular;
  tracker.on("error", (e) => (result.reportedError = e.kind));
  result.circularReturned = tracker.track("circular", circular);
  return tracker.flush().then(() => {
    result.flushed = true;
  });
});
EOF
cat > "$APP/check.ts" <<'EOF'
import { init, type ScantrackTracker, type Options, type DroppedReport } from "scantrack";

const options: Options = { siteId: "site_demo", endpoint: "https://collect.example.com", consent: "pending", piiPolicy: "hash" };
const tracker: ScantrackTracker = await init(options);
const id: string | undefined = tracker.track("signup", { plan: "pro", seats: 3, tags: ["a"] }, { amount: 19.98, currency: "EUR" });
tracker.page();
tracker.identify({ email: "ada@example.com" });
tracker.identify({ email_hash: "b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72" });
const off: () => void = tracker.on("dropped", (r: DroppedReport) => console.log(r.reason, r.event_id));
off();
tracker.on("delivered", (r) => console.log(r.event_ids.length));
tracker.consent("granted");
const done: Promise<void> = tracker.flush();
const session: string = tracker.sessionId();
console.log(id, done, session);
// @ts-expect-error: an unknown consent state is a type error
tracker.consent("maybe");
// @ts-expect-error: siteId is required
void init({ endpoint: "https://collect.example.com" });
EOF
cat > "$APP/tsconfig.json" <<'EOF'
{ "compilerOptions": { "strict": true, "noEmit": true, "target": "es2022", "module": "esnext",
  "moduleResolution": "bundler", "lib": ["es2022", "dom"], "skipLibCheck": false }, "files": ["check.ts"] }
EOF
cat > "$APP/esbuild-entry.js" <<'EOF'
import { init } from "scantrack";
import wasm from "scantrack/scantrack_bg.wasm";
init({ siteId: "site_demo", endpoint: "https://collect.example.com", wasm: new URL(wasm, import.meta.url) });
EOF

log "npm install the tarball, vite@$VITE_VERSION, typescript@$TYPESCRIPT_VERSION"
(cd "$APP" && npm install --no-audit --no-fund --loglevel=error --prefer-offline \
  "$TARBALL" "vite@$VITE_VERSION" "typescript@$TYPESCRIPT_VERSION" >/dev/null)

log "vite build (no plugin)"
(cd "$APP" && npx --no-install --loglevel=error vite build --logLevel warn) || die "vite build failed"
WASM_ASSET=$(ls "$APP"/dist/assets/*.wasm 2>/dev/null | head -n 1)
[ -n "$WASM_ASSET" ] || die "vite build emitted no .wasm asset (new URL(..., import.meta.url) was not recognised)"
grep -q "$(basename "$WASM_ASSET")" "$APP"/dist/assets/*.js || die "the Vite bundle does not reference $(basename "$WASM_ASSET")"
cmp -s "$WASM_ASSET" pkg/scantrack_bg.wasm || die "the wasm Vite emitted differs from pkg/scantrack_bg.wasm"
log "vite: $(basename "$WASM_ASSET") emitted and referenced"

log "tsc --strict against the package's types"
(cd "$APP" && npx --no-install --loglevel=error tsc -p .) || die "type check failed"

log "esbuild bundle (--loader:.wasm=file)"
(cd "$APP" && "$ROOT/node_modules/.bin/esbuild" esbuild-entry.js --bundle --format=esm --loader:.wasm=file \
  --outdir=esbuild-out --log-level=warning) || die "esbuild bundle failed"
ls "$APP"/esbuild-out/*.wasm >/dev/null 2>&1 || die "esbuild emitted no .wasm file"

# --- 3. the Vite build in a real browser.
if [ "${SCANTRACK_SKIP_BROWSER:-}" = 1 ] || [ ! -x /usr/bin/chromium ]; then
  log "browser step skipped"
else
  log "headless Chromium: init() and track() in the Vite build"
  node scripts/check-pack-browser.mjs "$APP/dist" || die "the Vite build does not work in Chromium"
fi
log "OK"
