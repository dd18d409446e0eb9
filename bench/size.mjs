// 4. Size: the core entry (src/index.ts) bundled and minified with esbuild, raw and gzip bytes, no
// `node:` import, and no runtime dependencies in package.json.
import { readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import path from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { buildCore } from './lib/build.mjs'
import { isMain } from './lib/main.mjs'
import { root } from './lib/paths.mjs'
import { environment, runAlone } from './lib/report.mjs'
import { fmt } from './lib/stats.mjs'

// Issue 12: no larger than the 5.5 KB gzip the core entry had when the hot-path work began.
const GZIP_LIMIT = 5.5 * 1024
const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]))

const measure = (code) => ({
  raw: Buffer.byteLength(code),
  gzip: gzipSync(code, { level: 9 }).length,
  brotli: brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
})

/** Imports left in the bundle (externals), from esbuild's metafile. */
const importsOf = (metafile) => Object.values(metafile.outputs).flatMap((output) => output.imports.map((i) => i.path))

export const size = async () => {
  const env = environment()
  const started = performance.now()
  const entries = [
    { label: 'core entry, everything (`src/index.ts`)', options: {} },
    {
      label: '`import { backgroundTasks }` only (tree-shaken)',
      options: { stdin: { contents: "export { backgroundTasks } from './src/index.ts'", loader: 'ts' } },
    },
    { label: 'testing entry (`src/testing.ts`)', options: { entry: path.join(root, 'src/testing.ts') } },
  ]
  const rows = []
  let core
  for (const { label, options } of entries) {
    const { code, metafile } = await buildCore(options)
    const imports = importsOf(metafile)
    const nodeImports = imports.filter((i) => NODE_BUILTINS.has(i) || i.startsWith('node:'))
    // Also catch a `node:` specifier that esbuild left as a string (dynamic import, require), but
    // not a run-time lookup through process.getBuiltinModule(), which does nothing where it is missing.
    const nodeStrings = [...code.matchAll(/["'`]node:[\w/]+["'`]/g)]
      .filter((m) => !/getBuiltinModule\??\.?\($/.test(code.slice(Math.max(0, m.index - 24), m.index)))
      .map((m) => m[0])
    const sizes = measure(code)
    const row = { label, ...sizes, imports, nodeImports: [...new Set([...nodeImports, ...nodeStrings])] }
    rows.push(row)
    core ??= row
  }
  const { code, metafile } = await buildCore()
  const inputs = Object.entries(Object.values(metafile.outputs)[0].inputs)
    .map(([file, { bytesInOutput }]) => [file, bytesInOutput])
    .filter(([, bytes]) => bytes > 0)
    .sort((a, b) => b[1] - a[1])
  // String and template literals: mostly the error messages.
  const literals = (code.match(/`(?:[^`\\]|\\.)*`|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g) ?? []).reduce((n, lit) => n + lit.length, 0)
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
  const deps = Object.keys(pkg.dependencies ?? {})
  return {
    id: 'size',
    title: '4. Size of the core entry',
    env,
    seconds: (performance.now() - started) / 1000,
    intro:
      'esbuild, `--bundle --minify --format=esm --platform=neutral --target=es2022`, `hono` external (a peer dependency); gzip level 9, brotli quality 11.',
    tables: [
      {
        headers: ['Bundle', 'minified', 'gzip', 'brotli', 'imports left', '`node:` imports'],
        rows: rows.map((r) => [
          r.label,
          fmt.bytes(r.raw),
          fmt.bytes(r.gzip),
          fmt.bytes(r.brotli),
          r.imports.join(', ') || 'none',
          r.nodeImports.join(', ') || 'none',
        ]),
      },
    ],
    notes: [
      `Where the minified core entry's bytes come from: ${inputs.map(([file, bytes]) => `${file} ${fmt.int(bytes)}`).join(', ')}. String and template literals (mostly error messages) are ${fmt.int(literals)} of its ${fmt.int(code.length)} bytes.`,
    ],
    targets: [
      { what: 'core entry, minified + gzip', wanted: '<= 5.5 KB (5,632 B)', measured: fmt.bytes(core.gzip), pass: core.gzip <= GZIP_LIMIT },
      {
        what: 'core entry: no `node:` import',
        wanted: 'none',
        measured: core.nodeImports.join(', ') || 'none',
        pass: core.nodeImports.length === 0,
      },
      { what: 'runtime dependencies in package.json', wanted: 'none', measured: deps.join(', ') || 'none', pass: deps.length === 0 },
    ],
  }
}

if (isMain(import.meta.url)) runAlone(size)
