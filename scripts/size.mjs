// `npm run size`: the bytes a script-tag page downloads (dist/scantrack.js and
// dist/scantrack_bg.wasm), raw, gzip (level 9) and brotli (quality 11), per file and in total.
// Exits 1 when the brotli total is over the budget, so a change that bloats every visitor's
// download fails loudly.
//   --json       print {"files": [...], "total": {...}, "budget_brotli": N, "ok": bool} instead
//   --no-budget  report only; exit 0 whatever the total (used by the build)
import { readFileSync } from "node:fs";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

/** Brotli bytes a visitor may download in total. */
const BUDGET_BROTLI_BYTES = 20_000;
const FILES = ["dist/scantrack.js", "dist/scantrack_bg.wasm"];

const args = new Set(process.argv.slice(2));
for (const a of args) {
  if (a !== "--json" && a !== "--no-budget") {
    console.error(`size: unknown argument ${a}; use --json and/or --no-budget`);
    process.exit(2);
  }
}

const files = [];
for (const file of FILES) {
  let bytes;
  try {
    bytes = readFileSync(file);
  } catch {
    console.error(`size: ${file} is missing; run npm run build first`);
    process.exit(2);
  }
  files.push({
    file,
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    }).length,
  });
}
const total = { file: "total", raw: 0, gzip: 0, brotli: 0 };
for (const f of files) for (const k of ["raw", "gzip", "brotli"]) total[k] += f[k];
const ok = total.brotli <= BUDGET_BROTLI_BYTES;

if (args.has("--json")) {
  console.log(JSON.stringify({ files, total, budget_brotli: BUDGET_BROTLI_BYTES, ok }, null, 2));
} else {
  const rows = [...files, total];
  const w = Math.max(...rows.map((r) => r.file.length));
  const line = (c) => `${c[0].padEnd(w)}  ${c[1].padStart(9)}  ${c[2].padStart(9)}  ${c[3].padStart(9)}`;
  console.log(line(["file", "raw", "gzip -9", "brotli 11"]));
  for (const r of rows) console.log(line([r.file, ...[r.raw, r.gzip, r.brotli].map((n) => n.toLocaleString("en"))]));
  console.log(
    `budget: ${total.brotli.toLocaleString("en")} of ${BUDGET_BROTLI_BYTES.toLocaleString("en")} brotli bytes` +
      (ok ? ` (${(BUDGET_BROTLI_BYTES - total.brotli).toLocaleString("en")} left)` : " -- OVER BUDGET"),
  );
}
if (!ok && !args.has("--no-budget")) process.exit(1);
