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
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
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

/**
 * The glue as the script tag bundles it (pkg/scantrack.js itself stays whole for the npm package,
 * whose `init` takes any of the forms wasm-bindgen's init accepts). The loader fetches and
 * instantiates the wasm itself (js/loader.js), so the glue keeps only the imports object, the
 * string and memory helpers, and a `__wbg_finish(instance)`. Each rewrite is checked against the
 * text wasm-bindgen 0.2.130 generates: if a pattern is not there, the build fails (update the
 * rewrite, do not ship an unchecked glue).
 */
function distGlue(text, wasmBytes) {
  const fail = (what) => {
    console.error(`build: ${GLUE} no longer has ${what} (wasm-bindgen changed its glue?); update distGlue in scripts/build-dist.mjs`);
    process.exit(1);
  };
  const once = (from, to, what) => {
    const n = text.split(from).length - 1;
    if (n !== 1) fail(`${what} exactly once (found ${n})`);
    text = text.replace(from, () => to);
  };
  const module = new WebAssembly.Module(wasmBytes);
  const wasmExports = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  for (const name of ["memory", "__wbindgen_start", "__wbindgen_malloc", "__wbindgen_realloc"]) {
    if (!wasmExports.has(name)) fail(`a wasm export ${name}`);
  }

  // 1. The wasm's direct imports from js/host.js: a plain object of exactly those functions
  //    instead of the module namespace (which esbuild builds with a getter per export).
  const direct = new Map();
  for (const i of WebAssembly.Module.imports(module)) {
    if (!i.module.startsWith("./snippets/")) continue;
    if (!/\/js\/host\.js$/.test(i.module)) fail(`only js/host.js as a snippet (the wasm imports ${i.module})`);
    if (!direct.has(i.module)) direct.set(i.module, []);
    direct.get(i.module).push(i.name);
  }
  const star = /^import \* as (import\d+) from "\.\.\/js\/host\.js"\n/gm;
  const names = [...new Set([...direct.values()].flat())];
  const stars = [];
  text = text.replace(star, (_, id) => (stars.push(id), ""));
  if (stars.length === 0 && names.length) fail("`import * as importN from \"../js/host.js\"`");
  const entry = /^ *"\.\/snippets\/[^"]+": (import\d+),\n/gm;
  let entries = 0;
  text = text.replace(entry, (_, id) => (stars.includes(id) || fail(`an import object entry for ${id}`), entries++, ""));
  if (entries !== stars.length) fail(`one import object entry per \`import * as\` (${entries} for ${stars.length})`);
  // The keys are the wasm's short import names (shortImports): one module per object.
  const [hostModule] = [...direct.keys()];
  const shortName = (module, name) => shortened.names.get(module + " " + name) || fail(`the short name of ${module} ${name}`);
  const header =
    `import { ${names.map((n) => `${n} as __host_${n}`).join(", ")} } from "../js/host.js";
` +
    `const __host = { __proto__: null, ${names.map((n) => `${shortName(hostModule, n)}: __host_${n}`).join(", ")} };
`;
  once("function __wbg_get_imports() {", header + "function __wbg_get_imports() {", "function __wbg_get_imports()");
  const entriesText = hostModule ? `        ${JSON.stringify(shortened.modules.get(hostModule))}: __host,\n` : "";
  const glueModule = "./scantrack_bg.js";
  once(`        "${glueModule}": import0,\n`, `        "${shortened.modules.get(glueModule)}": import0,\n` + entriesText, 'the "./scantrack_bg.js" import object entry');
  for (const i of WebAssembly.Module.imports(module)) {
    if (i.module === glueModule) once(`\n        ${i.name}: function(`, `\n        ${shortName(glueModule, i.name)}: function(`, `the import object entry ${i.name}`);
  }

  // 2. Returned strings: one helper instead of four lines per import.
  const ret =
    /(?:var|const) ptr1 = (isLikeNone\(ret\) \? 0 : )?passStringToWasm0\(ret, wasm\.__wbindgen_malloc, wasm\.__wbindgen_realloc\);\n\s*(?:var|const) len1 = WASM_VECTOR_LEN;\n\s*getDataViewMemory0\(\)\.setInt32\(\(arg0 >>> 0\) \+ 4 \* 1, len1, true\);\n\s*getDataViewMemory0\(\)\.setInt32\(\(arg0 >>> 0\) \+ 4 \* 0, ptr1, true\);/g;
  let rets = 0;
  text = text.replace(ret, () => (rets++, "__wbg_ret(arg0, ret);"));
  if (rets === 0) fail("the returned-string pattern (ptr1/len1/setInt32)");
  if (/passStringToWasm0\((?!arg, malloc, realloc\))/.test(text.replace(/function passStringToWasm0\(/, ""))) {
    fail("passStringToWasm0 only in the returned-string pattern");
  }
  // Every caller passes wasm.__wbindgen_realloc (checked above): the malloc-only branch goes.
  once(
    `function passStringToWasm0(arg, malloc, realloc) {
    if (realloc === undefined) {
        const buf = cachedTextEncoder.encode(arg);
        const ptr = malloc(buf.length, 1) >>> 0;
        getUint8ArrayMemory0().subarray(ptr, ptr + buf.length).set(buf);
        WASM_VECTOR_LEN = buf.length;
        return ptr;
    }
`,
    `/** A string returned to the wasm: (pointer, length) at \`at\`; null or undefined as pointer 0. */
function __wbg_ret(at, s) {
    const ptr = s == null ? 0 : passStringToWasm0(s);
    const view = getDataViewMemory0();
    view.setInt32((at >>> 0) + 4, WASM_VECTOR_LEN, true);
    view.setInt32(at >>> 0, ptr, true);
}

function passStringToWasm0(arg) {
    const malloc = wasm.__wbindgen_malloc, realloc = wasm.__wbindgen_realloc;
`,
    "passStringToWasm0's malloc-only branch",
  );

  // 3. TextEncoder.encodeInto is in every browser that runs this wasm (it needs reference types).
  once(
    `
if (!('encodeInto' in cachedTextEncoder)) {
    cachedTextEncoder.encodeInto = function (arg, view) {
        const buf = cachedTextEncoder.encode(arg);
        view.set(buf);
        return {
            read: arg.length,
            written: buf.length
        };
    };
}
`,
    "",
    "the encodeInto fallback",
  );

  // 4. Non-shared memory: a grown memory has a new buffer, so comparing buffers is enough.
  once(
    "if (cachedDataViewMemory0 === null || cachedDataViewMemory0.buffer.detached === true || (cachedDataViewMemory0.buffer.detached === undefined && cachedDataViewMemory0.buffer !== wasm.memory.buffer)) {",
    "if (cachedDataViewMemory0 === null || cachedDataViewMemory0.buffer !== wasm.memory.buffer) {",
    "getDataViewMemory0's test",
  );

  // 5. Loading: initSync, __wbg_init and its fetch/streaming/MIME fallbacks give way to
  //    `__wbg_finish(instance)`, called by the loader with the instance it made.
  const tailStart = text.indexOf("let wasmModule, wasmInstance, wasm;\n");
  if (tailStart < 0) fail("`let wasmModule, wasmInstance, wasm;`");
  const tail = text.slice(tailStart);
  const fns = [...tail.matchAll(/^(?:async )?function (\w+)/gm)].map((m) => m[1]).join(",");
  if (fns !== "__wbg_finalize_init,__wbg_load,initSync,__wbg_init,__wbg_init_once") fail(`the known loading functions (found ${fns})`);
  if (!tail.endsWith("export { initSync, __wbg_init as default };\n")) fail("the known export line");
  const finalize = `function __wbg_finalize_init(instance, module) {
    wasmInstance = instance;
    wasm = instance.exports;
    wasmModule = module;
    cachedDataViewMemory0 = null;
    cachedUint8ArrayMemory0 = null;
    wasm.__wbindgen_start();
    return wasm;
}`;
  if (!tail.includes(finalize)) fail("the known __wbg_finalize_init");
  text =
    text.slice(0, tailStart) +
    `let wasm;
/** Makes \`instance\` (of the wasm, with \`__wbg_get_imports()\`) this glue's module; returns its exports. */
export function __wbg_finish(instance) {
    wasm = instance.exports;
    wasm.__wbindgen_start();
    return wasm;
}
export { __wbg_get_imports };
`;
  return text;
}

/**
 * The script tag's wasm with its imports under short names. wasm-bindgen names every import
 * `__wbg_<function>_<16 hex digits>` in the modules `./scantrack_bg.js` and
 * `./snippets/<crate>-<16 hex digits>/js/host.js`: some 600 bytes that brotli cannot compress,
 * once in the wasm and again as the keys of the glue's import object. Here the import section
 * is rewritten (names only; every other byte of the module is kept) and `distGlue` renames the
 * keys to match. Returns the new bytes and the short names: `module` -> short module name,
 * `module + " " + name` -> short name. The npm package keeps wasm-bindgen's names (its glue is
 * wasm-bindgen's own).
 */
function shortImports(bytes) {
  const fail = (what) => {
    console.error(`build: cannot rename the wasm's imports: ${what}`);
    process.exit(1);
  };
  let p = 0;
  const leb = () => {
    let r = 0;
    let shift = 0;
    for (;;) {
      const c = bytes[p++];
      r += (c & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(c & 0x80)) return r;
    }
  };
  const enc = (n) => {
    const o = [];
    do {
      let c = n % 128;
      n = Math.floor(n / 128);
      if (n) c |= 0x80;
      o.push(c);
    } while (n);
    return o;
  };
  const str = () => {
    const n = leb();
    const s = new TextDecoder().decode(bytes.subarray(p, p + n));
    p += n;
    return s;
  };
  const vec = (s) => {
    const b = [...new TextEncoder().encode(s)];
    return [...enc(b.length), ...b];
  };
  /** a, b, ..., z, ba, bb, ...: the i-th short name. */
  const short = (i) => (i < 26 ? "" : short(Math.floor(i / 26) - 1)) + String.fromCharCode(97 + (i % 26));
  const modules = new Map();
  const names = new Map();
  const out = [...bytes.subarray(0, 8)];
  p = 8;
  while (p < bytes.length) {
    const id = bytes[p++];
    const size = leb();
    const end = p + size;
    if (id !== 2) {
      out.push(id, ...enc(size), ...bytes.subarray(p, end));
      p = end;
      continue;
    }
    const body = [];
    const count = leb();
    body.push(...enc(count));
    for (let i = 0; i < count; i++) {
      const module = str();
      const name = str();
      if (module !== "./scantrack_bg.js" && !/^\.\/snippets\/[^/]+\/js\/host\.js$/.test(module)) fail(`an import from ${module}`);
      if (!modules.has(module)) modules.set(module, short(modules.size));
      const key = module + " " + name;
      if (names.has(key)) fail(`${key} imported twice`);
      names.set(key, short(names.size));
      body.push(...vec(modules.get(module)), ...vec(names.get(key)));
      const descStart = p;
      const kind = bytes[p++];
      const limits = () => {
        const flags = bytes[p++];
        if (flags > 3) fail(`limits flags ${flags}`);
        leb();
        if (flags & 1) leb();
      };
      if (kind === 0) leb();
      else if (kind === 1) (p++, limits());
      else if (kind === 2) limits();
      else if (kind === 3) p += 2;
      else fail(`an import of kind ${kind}`);
      body.push(...bytes.subarray(descStart, p));
    }
    if (p !== end) fail("the import section's size");
    out.push(2, ...enc(body.length), ...body);
  }
  return { bytes: Uint8Array.from(out), modules, names };
}

const sri = (path) => "sha384-" + createHash("sha384").update(readFileSync(path)).digest("base64");

hardenGlue();
mkdirSync(DIST, { recursive: true });
const shortened = shortImports(readFileSync(`pkg/${WASM}`));
writeFileSync(`${DIST}/${WASM}`, shortened.bytes);
// The renamed module must still be one the browser accepts, with the same imports in number.
if (WebAssembly.Module.imports(new WebAssembly.Module(shortened.bytes)).length !== shortened.names.size) {
  console.error("build: the wasm with short import names does not read back");
  process.exit(1);
}
const wasmIntegrity = sri(`${DIST}/${WASM}`);

await build({
  entryPoints: ["js/loader.js"],
  outfile: `${DIST}/${LOADER}`,
  bundle: true,
  format: "iife",
  minify: !process.env.NO_MINIFY,
  target: TARGET,
  legalComments: "none",
  charset: "utf8",
  define: { __SCANTRACK_WASM_INTEGRITY__: JSON.stringify(wasmIntegrity) },
  // The glue's default wasm URL uses import.meta.url, which an IIFE does not have; the loader
  // always passes the wasm explicitly, so that branch never runs.
  // Anything the bundle's module-level code throws (a page that broke a built-in it uses) is
  // one console error, never an exception in the page.
  banner: { js: "try{" },
  footer: { js: '}catch(e){try{console.error("scantrack: could not start ("+e+"); events on this page are not tracked")}catch(_){}}' },
  plugins: [
    {
      name: "dist-glue",
      setup(b) {
        b.onLoad({ filter: /[\\/]pkg[\\/]scantrack\.js$/ }, (args) => ({
          contents: distGlue(readFileSync(args.path, "utf8"), readFileSync(`pkg/${WASM}`)),
          loader: "js",
        }));
      },
    },
  ],
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
