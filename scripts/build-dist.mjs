// The script-tag build, run by scripts/build.sh after wasm-pack has written pkg/:
//   dist/scantrack_bg.wasm  a copy of pkg/scantrack_bg.wasm
//   dist/scantrack.js       js/loader.js + the glue, bundled by esbuild as a minified IIFE
//                           (a classic script), with the wasm's sha384 baked in so that the
//                           script tag's `integrity` covers the wasm as well
//   dist/sri.json           {"scantrack.js": "sha384-...", "scantrack_bg.wasm": "sha384-..."}
// It first hardens pkg/scantrack.js (the wasm-bindgen glue, shipped by both the script tag and
// the npm package) in place: its `f.apply(...)` and `argN.call(...)` become Reflect.apply as
// captured at load, so a page that later replaces Function.prototype.call/apply cannot break
// the tracker's calls into the browser. Its imports of the host module (wasm-bindgen's copy in
// pkg/snippets/<crate>-<hash>/js/host.js) are pointed at js/host.js itself: one file that the
// npm package ships and esbuild bundles, whatever the hash.
// Then the CSP check: no eval or Function constructor in anything that ships (dist/ and the
// npm package's JavaScript), since the snippet must run under
// `Content-Security-Policy: script-src 'self' 'wasm-unsafe-eval'`.
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

const DIST = "dist";
const WASM = "scantrack_bg.wasm";
const LOADER = "scantrack.js";
/** Browsers the loader targets; the wasm itself needs reference types and bulk memory anyway. */
const TARGET = ["es2019"];
/** Code generation from strings: forbidden by a CSP without 'unsafe-eval'. */
const FORBIDDEN = [/\beval\s*\(/, /\bnew\s+Function\b/, /\bFunction\s*\(\s*["'`]/, /setTimeout\s*\(\s*["'`]/];

const GLUE = "pkg/scantrack.js";
const HARDENED = "// scantrack: hardened";

/** Rewrites the glue's uses of Function.prototype.call/apply; fails if any is left over. */
function hardenGlue() {
  let text = readFileSync(GLUE, "utf8");
  if (!text.includes(HARDENED)) {
    const header =
      `${HARDENED}: Function.prototype.call/apply as they were when this module loaded (scripts/build-dist.mjs)\n` +
      "const __scantrack_apply = Reflect.apply;\n" +
      "function __scantrack_call(f, thisArg, ...args) { return __scantrack_apply(f, thisArg, args); }\n";
    text = text
      .replace(/\bf\.apply\(this, args\)/g, "__scantrack_apply(f, this, args)")
      .replace(/\b(arg\d+)\.call\(/g, "__scantrack_call($1, ");
    const nl = text.startsWith("/*") ? text.indexOf("\n") + 1 : 0; // keep @ts-self-types first
    text = text.slice(0, nl) + header + text.slice(nl);
    writeFileSync(GLUE, text);
  }
  const pointed = text.replace(/(from\s*['"])\.\/snippets\/[^'"]*\/js\/host\.js(['"])/g, "$1../js/host.js$2");
  if (pointed !== text) writeFileSync(GLUE, (text = pointed));
  if (/from\s*['"]\.\/snippets\//.test(text)) {
    console.error(`build: ${GLUE} imports a snippet other than js/host.js; ship it or point it at its source`);
    process.exit(1);
  }
  const left = /\.(call|apply)\(/.exec(text.replace(/__scantrack_(call|apply)\(/g, ""));
  if (left) {
    const at = text.slice(Math.max(0, left.index - 80), left.index + 40).replace(/\s+/g, " ");
    console.error(`build: ${GLUE} uses .${left[1]}( in a form build-dist.mjs does not rewrite: ...${at}...`);
    process.exit(1);
  }
}

const sri = (path) => "sha384-" + createHash("sha384").update(readFileSync(path)).digest("base64");

hardenGlue();
mkdirSync(DIST, { recursive: true });
copyFileSync(`pkg/${WASM}`, `${DIST}/${WASM}`);
const wasmIntegrity = sri(`${DIST}/${WASM}`);

await build({
  entryPoints: ["js/loader.js"],
  outfile: `${DIST}/${LOADER}`,
  bundle: true,
  format: "iife",
  minify: true,
  target: TARGET,
  legalComments: "none",
  charset: "utf8",
  define: { __SCANTRACK_WASM_INTEGRITY__: JSON.stringify(wasmIntegrity) },
  // The glue's default wasm URL uses import.meta.url, which an IIFE does not have; the loader
  // always passes the wasm explicitly, so that branch never runs.
  logOverride: { "empty-import-meta": "silent" },
  logLevel: "warning",
});

const shipped = [`${DIST}/${LOADER}`, "pkg/scantrack.js", "js/index.js", "js/core.js", "js/host.js"];
let bad = 0;
for (const file of shipped) {
  const text = readFileSync(file, "utf8");
  for (const re of FORBIDDEN) {
    const m = re.exec(text);
    if (m) {
      const at = text.slice(Math.max(0, m.index - 60), m.index + 60).replace(/\s+/g, " ");
      console.error(`build: ${file} contains ${JSON.stringify(m[0])} (breaks CSP without 'unsafe-eval'): ...${at}...`);
      bad++;
    }
  }
}
if (bad) process.exit(1);

const hashes = { [LOADER]: sri(`${DIST}/${LOADER}`), [WASM]: wasmIntegrity };
writeFileSync(`${DIST}/sri.json`, JSON.stringify(hashes, null, 2) + "\n");
console.log("SRI (sha384, base64), also in dist/sri.json:");
for (const [file, hash] of Object.entries(hashes)) console.log(`  dist/${file.padEnd(18)} ${hash}`);
console.log(
  `  <script async src="/dist/${LOADER}" integrity="${hashes[LOADER]}" crossorigin="anonymous" data-site-id="..." data-endpoint="..."></script>`,
);
