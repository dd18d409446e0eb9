// `node examples/node-durable/demo.mjs [--bun]`: the proof that a durable task survives its web
// process. Starts Redis (a throwaway redis-server, unless REDIS_URL or REDIS_SOCKET is set), the
// web process, registers a user and prints the 201, kills the web process with SIGKILL right after
// that response, then starts a worker process, which sends the welcome email the dead process queued.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const root = join(here, '../..')
const bun = process.argv.includes('--bun')
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
setTimeout(() => fail('gave up after 60 s'), 60_000).unref()

/** Starts the web or worker process in its own process group; resolves on the first line matching `ready`. */
const start = (role, env, ready) =>
  new Promise((resolve, reject) => {
    const [command, ...args] = bun
      ? [join(root, 'node_modules/.bin/bun'), join(here, `src/${role}.ts`)]
      : [process.execPath, join(here, 'start.mjs'), role]
    const child = spawn(command, args, { cwd: root, detached: true, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
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
  if (!process.env.REDIS_URL && !process.env.REDIS_SOCKET) {
    if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
      fail('redis-server is not installed: `apt-get install -y redis-server` (or `brew install redis`), or set REDIS_URL')
    }
    const dir = mkdtempSync(join(tmpdir(), 'node-durable-'))
    env.REDIS_SOCKET = join(dir, 'redis.sock')
    const pidfile = join(dir, 'redis.pid')
    spawnSync('redis-server', [
      ...['--port', '0', '--unixsocket', env.REDIS_SOCKET, '--save', '', '--appendonly', 'no'],
      ...['--maxmemory-policy', 'noeviction', '--dir', dir, '--daemonize', 'yes', '--pidfile', pidfile],
    ])
    for (let i = 0; i < 200 && !(existsSync(env.REDIS_SOCKET) && existsSync(pidfile)); i++) await new Promise((r) => setTimeout(r, 10))
    cleanups.push(() => {
      try {
        process.kill(Number(readFileSync(pidfile, 'utf8')), 'SIGKILL')
      } catch {}
      rmSync(dir, { recursive: true, force: true })
    })
    console.log(`demo: started a throwaway redis-server on ${env.REDIS_SOCKET}`)
  }
  const runtime = bun ? 'Bun' : 'Node'
  console.log(`demo: starting the web process (${runtime})`)
  const web = await start('web', env, /listening on/)
  const base = /listening on (http:\/\/\S+)/.exec(web.lines.find((l) => /listening on/.test(l)))[1]

  const res = await fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'ada@example.com', name: 'Ada Lovelace' }),
  })
  kill(web, 'SIGKILL')
  console.log(`demo: POST /register -> ${res.status} ${await res.text()}`)
  const { signal } = await web.exited
  console.log(`demo: killed the web process (pid ${web.pid}) with SIGKILL right after its response: it exited by ${signal}`)
  if (res.status !== 201) fail(`expected 201, got ${res.status}`)

  console.log(`demo: starting a worker process (${runtime}); nothing else knows about Ada`)
  const worker = await start('worker', env, /waiting for jobs/)
  const sent = await worker.waitFor(/\[email\] welcome email to ada@example\.com sent/)
  console.log(`demo: the worker (pid ${worker.pid}) sent the email the killed web process had queued:\n  ${sent}`)
  kill(worker, 'SIGTERM')
  await worker.exited
  finish(0)
} catch (error) {
  fail(error instanceof Error ? error.message : String(error))
}
