// `node examples/node-durable/start.mjs web|worker`: Node 20 cannot run TypeScript, so this bundles
// src/web.ts or src/worker.ts with esbuild (packages stay imports from node_modules) and runs it.
import { build } from 'esbuild'

const role = process.argv[2]
if (role !== 'web' && role !== 'worker') {
  console.error('usage: node examples/node-durable/start.mjs web|worker')
  process.exit(2)
}
const outfile = new URL(`./dist/${role}.mjs`, import.meta.url)
await build({
  entryPoints: [new URL(`./src/${role}.ts`, import.meta.url).pathname],
  outfile: outfile.pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
})
await import(outfile.href)
