// `node examples/node/start.mjs`: Node 20 cannot run TypeScript, so this bundles src/server.ts
// with esbuild (packages stay imports from node_modules) and runs the bundle in this process.
import { build } from 'esbuild'

const outfile = new URL('./dist/server.mjs', import.meta.url)
await build({
  entryPoints: [new URL('./src/server.ts', import.meta.url).pathname],
  outfile: outfile.pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
})
await import(outfile.href)
