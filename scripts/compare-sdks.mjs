// `node scripts/compare-sdks.mjs`: what a script-tag page downloads for each JavaScript SDK
// scantrack competes with, measured like `npm run size` measures ours (raw, gzip -9, brotli 11),
// so that the size target is argued from figures, not memory. Each SDK's browser bundle is taken
// from its npm tarball (`npm pack`, the registry is the only network this needs) into a
// temporary directory; nothing is installed in the project. Not part of `npm test`: it needs the
// registry and its figures move with the SDKs' releases.
//
// What is measured is the first download of a page that uses the SDK's own script-tag build.
// Segment's standalone bundle and Mixpanel's fetch more code later (settings, destinations,
// recorder); that is not counted, which favours them.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

/** Package, and the file inside its tarball that a script tag loads. */
const SDKS = [
  ["posthog-js", "package/dist/array.js"],
  ["@amplitude/analytics-browser", "package/lib/scripts/amplitude-min.js"],
  ["mixpanel-browser", "package/dist/mixpanel.min.js"],
  ["@segment/analytics-next", "package/dist/umd/standalone.js"],
  ["@snowplow/browser-tracker", "package/dist/index.umd.min.js"],
];

function sizes(bytes) {
  return [
    bytes.length,
    gzipSync(bytes, { level: 9 }).length,
    brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  ];
}

const row = (name, [raw, gz, br]) =>
  "| " + name + " | " + [raw, gz, br].map((n) => n.toLocaleString("en")).join(" | ") + " |";

const dir = mkdtempSync(join(tmpdir(), "scantrack-sdks-"));
try {
  console.log("| script-tag download | raw | gzip -9 | brotli 11 |\n| --- | --- | --- | --- |");
  for (const [pkg, file] of SDKS) {
    const tgz = execFileSync("npm", ["pack", pkg, "--silent", "--pack-destination", dir], { encoding: "utf8" })
      .trim()
      .split("\n")
      .pop();
    const out = join(dir, tgz.replace(/\.tgz$/, ""));
    execFileSync("mkdir", ["-p", out]);
    execFileSync("tar", ["xzf", join(dir, tgz), "-C", out]);
    console.log(row(tgz.replace(/\.tgz$/, "") + " (" + file.replace(/^package\//, "") + ")", sizes(readFileSync(join(out, file)))));
  }
  const ours = ["dist/scantrack.js", "dist/scantrack_bg.wasm"];
  if (ours.every((f) => statSync(f, { throwIfNoEntry: false }))) {
    const total = [0, 0, 0];
    for (const f of ours) sizes(readFileSync(f)).forEach((n, i) => (total[i] += n));
    console.log(row("scantrack (dist/scantrack.js + dist/scantrack_bg.wasm)", total));
  } else {
    console.log("(dist/ is not built: npm run build, to compare scantrack too)");
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
