// `node examples/node-postgres/demo.mjs`: the proof that a durable task survives its web process,
// on PostgreSQL with pg-boss. Starts PostgreSQL (a throwaway cluster, unless DATABASE_URL is set),
// the web process, registers a user and prints the 201, kills the web process with SIGKILL right
// after that response, then starts a worker process, which sends the welcome email the dead
// process inserted. Both run under the Node pg-boss 12 needs (22.12 or later).
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { NODE_FOR_PG_BOSS } from '../../scripts/node-22.mjs'
import { hasPostgres, POSTGRES_INSTALL, startPostgres } from '../../scripts/postgres.mjs'
import { prepare } from './start.mjs'

const root = fileURLToPath(new URL('../..', import.meta.url))
const children = new Set()
const cleanups = []

const fail = (why) => {
  console.error(`demo: ${why}`)
  finish(1)
}
const finish = (code) => {
  for (const child of children) kill(child, 'SIGKILL')
  for (const cleanup of cleanups.reverse()) cleanup()
  process.exit(code)
}
const kill = (child, signal) => {
  try {
    process.kill(-child.pid, signal)
  } catch {}
}
setTimeout(() => fail('gave up after 90 s'), 90_000).unref()

/** Starts the web or worker process in its own process group; resolves on the first line matching `ready`. */
const start = (role, { node, script }, env, ready) =>
  new Promise((resolve, reject) => {
    const child = spawn(node, [script], { cwd: root, detached: true, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    child.lines = []
    child.waiters = []
    const onLine = (line) => {
      child.lines.push(line)
      console.log(`  ${role} | ${line}`)
      for (const waiter of [...child.waiters]) {
        if (waiter.pattern.test(line)) {
          child.waiters.splice(child.waiters.indexOf(waiter), 1)
          waiter.resolve(line)
        }
      }
    }
    for (const stream of [child.stdout, child.stderr]) {
      let rest = ''
      stream.setEncoding('utf8')
      stream.on('data', (chunk) => {
        rest += chunk
        for (let i = rest.indexOf('\n'); i >= 0; i = rest.indexOf('\n')) {
          onLine(rest.slice(0, i))
          rest = rest.slice(i + 1)
        }
      })
    }
    child.exited = new Promise((done) => child.on('exit', (code, signal) => done({ code, signal })))
    child.exited.then(({ code, signal }) => {
      children.delete(child)
      reject(new Error(`${role} exited (code ${code}, signal ${signal}) before it was ready`))
    })
    child.waitFor = (pattern) =>
      new Promise((done) => {
        const seen = child.lines.find((line) => pattern.test(line))
        if (seen !== undefined) done(seen)
        else child.waiters.push({ pattern, resolve: done })
      })
    child.waitFor(ready).then(() => resolve(child))
  })

try {
  const env = { PORT: '0', HOST: '127.0.0.1' }
  if (!process.env.DATABASE_URL) {
    if (!hasPostgres()) fail(`${POSTGRES_INSTALL}; or set DATABASE_URL`)
    const postgres = startPostgres()
    cleanups.push(() => postgres.stop())
    env.DATABASE_URL = postgres.url
    console.log(`demo: started a throwaway PostgreSQL on ${postgres.host}`)
  }
  const [web, worker] = [await prepare('web'), await prepare('worker')]
  const version = web.node === process.execPath ? process.version : `v${NODE_FOR_PG_BOSS}`
  console.log(`demo: starting the web process (Node ${version}: pg-boss 12 needs Node 22.12 or later)`)
  const server = await start('web', web, env, /listening on/)
  const base = /listening on (http:\/\/\S+)/.exec(server.lines.find((l) => /listening on/.test(l)))[1]

  const res = await fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'ada@example.com', name: 'Ada Lovelace' }),
  })
  kill(server, 'SIGKILL')
  console.log(`demo: POST /register -> ${res.status} ${await res.text()}`)
  const { signal } = await server.exited
  console.log(`demo: killed the web process (pid ${server.pid}) with SIGKILL right after its response: it exited by ${signal}`)
  if (res.status !== 201) fail(`expected 201, got ${res.status}`)

  console.log('demo: starting a worker process; nothing else knows about Ada')
  const running = await start('worker', worker, env, /waiting for jobs/)
  const sent = await running.waitFor(/\[email\] welcome email to ada@example\.com sent/)
  console.log(`demo: the worker (pid ${running.pid}) sent the email the killed web process had inserted:\n  ${sent}`)
  kill(running, 'SIGTERM')
  await running.exited
  finish(0)
} catch (error) {
  fail(error instanceof Error ? error.message : String(error))
}
