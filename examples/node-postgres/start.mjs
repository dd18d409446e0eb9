// `node examples/node-postgres/start.mjs web|worker`: bundles src/web.ts or src/worker.ts with
// esbuild (packages stay imports from node_modules) and runs it under a Node that pg-boss 12
// supports (22.12 or later): this one if it is new enough, else one fetched once from the npm
// registry (scripts/node-22.mjs). Signals are passed on to it.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { nodeForPgBoss } from '../../scripts/node-22.mjs'

/** Bundles `role`; returns the Node binary to run it with and the script. */
export const prepare = async (role) => {
  const outfile = fileURLToPath(new URL(`./dist/${role}.mjs`, import.meta.url))
  await build({
    entryPoints: [fileURLToPath(new URL(`./src/${role}.ts`, import.meta.url))],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    packages: 'external',
    logLevel: 'warning',
  })
  return { node: nodeForPgBoss(), script: outfile }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const role = process.argv[2]
  if (role !== 'web' && role !== 'worker') {
    console.error('usage: node examples/node-postgres/start.mjs web|worker')
    process.exit(2)
  }
  const { node, script } = await prepare(role)
  if (node === process.execPath) await import(script)
  else {
    // Its own process group, so that a Ctrl-C reaches it once, from here.
    const child = spawn(node, [script], { stdio: 'inherit', detached: true })
    for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
    child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
  }
}
