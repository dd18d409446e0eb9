// esbuild bundles of the library and the benchmark servers, built from src/ on every run.
import path from 'node:path'
import { build } from 'esbuild'
import { benchDir, cacheDir, root } from './paths.mjs'

const servers = path.join(benchDir, 'servers')
const libraryEntry = path.join(root, 'src/index.ts')

/** Routes `../../src/index.ts` to the separately built `lib.mjs`, so profiles can tell library code apart. */
const libraryAsFile = {
  name: 'library-as-file',
  setup(b) {
    b.onResolve({ filter: /src\/index\.ts$/ }, () => ({ path: './lib.mjs', external: true }))
  },
}

/** The Node server: `.cache/node-server.mjs` importing `.cache/lib.mjs`; hono and the adapter from node_modules. */
export const buildNodeServer = async () => {
  await build({
    entryPoints: [libraryEntry],
    outfile: path.join(cacheDir, 'lib.mjs'),
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    packages: 'external',
    logLevel: 'error',
  })
  const outfile = path.join(cacheDir, 'node-server.mjs')
  await build({
    entryPoints: [path.join(servers, 'node.mjs')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    packages: 'external',
    plugins: [libraryAsFile],
    logLevel: 'error',
  })
  return outfile
}

/** The in-process micro-benchmark, `.cache/micro.mjs`, importing `.cache/lib.mjs` like the Node server. */
export const buildMicro = async () => {
  await buildNodeServer()
  const outfile = path.join(cacheDir, 'micro.mjs')
  await build({
    entryPoints: [path.join(servers, 'micro.mjs')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    packages: 'external',
    plugins: [libraryAsFile],
    logLevel: 'error',
  })
  return outfile
}

/** A module Worker for workerd, everything bundled. */
export const buildWorker = async (variant) => {
  const outfile = path.join(cacheDir, `worker-${variant}.mjs`)
  await build({
    entryPoints: [path.join(servers, 'worker.mjs')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    define: { 'globalThis.BENCH_VARIANT': JSON.stringify(variant) },
    logLevel: 'error',
  })
  return outfile
}

/** A service-worker script (IIFE) for edge-runtime, everything bundled. */
export const buildEdge = async (variant) => {
  const outfile = path.join(cacheDir, `edge-${variant}.js`)
  await build({
    entryPoints: [path.join(servers, 'edge.mjs')],
    outfile,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    conditions: ['edge-light', 'worker', 'browser'],
    define: { 'globalThis.BENCH_VARIANT': JSON.stringify(variant) },
    logLevel: 'error',
  })
  return outfile
}

/** The core entry as a user's bundler would ship it: minified ESM, peers external. */
export const buildCore = async ({ entry = libraryEntry, minify = true, stdin } = {}) => {
  const result = await build({
    ...(stdin ? { stdin: { ...stdin, resolveDir: root } } : { entryPoints: [entry] }),
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    minify,
    metafile: true,
    external: ['hono', 'hono/*'],
    logLevel: 'error',
  })
  return { code: result.outputFiles[0].text, metafile: result.metafile }
}
