// One function per runtime: start the benchmark app in a child process, resolve with its URL.
import path from 'node:path'
import { buildEdge, buildNodeServer, buildWorker } from './build.mjs'
import { benchDir } from './paths.mjs'
import { binaries, startServer } from './proc.mjs'

const servers = path.join(benchDir, 'servers')
let nodeBundle

export const startNode = async (variant, { nodeArgs = [], name = `node:${variant}`, env } = {}) => {
  nodeBundle ??= buildNodeServer()
  const file = await nodeBundle
  return startServer(name, binaries.node, [...nodeArgs, file, variant], { env })
}

export const startBun = (variant) => {
  if (!binaries.bun) throw new Error('bun binary not found in node_modules')
  return startServer(`bun:${variant}`, binaries.bun, [path.join(servers, 'bun.mjs'), variant])
}

export const startDeno = (variant) => {
  if (!binaries.deno) throw new Error('deno binary not found in node_modules')
  // node_modules of the repository, no lockfile, no network.
  const args = ['run', '--allow-net', '--allow-env', '--allow-read', '--allow-sys', '--node-modules-dir=manual', '--no-lock']
  return startServer(`deno:${variant}`, binaries.deno, [...args, path.join(servers, 'deno.mjs'), variant])
}

export const startWorkerd = async (variant) => {
  const file = await buildWorker(variant)
  return startServer(`workerd:${variant}`, binaries.node, ['--no-warnings', path.join(servers, 'workerd-host.mjs'), file], {
    timeout: 60_000,
  })
}

export const startEdge = async (variant) => {
  const file = await buildEdge(variant)
  return startServer(`edge-runtime:${variant}`, binaries.node, ['--no-warnings', path.join(servers, 'edge-host.mjs'), file])
}

export const runtimes = { node: startNode, bun: startBun, deno: startDeno, workerd: startWorkerd, 'edge-runtime': startEdge }
