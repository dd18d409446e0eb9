// `node examples/node-durable/demo.mjs [--bun]`: the proof that a durable task survives its web
// process. Starts Redis (a throwaway redis-server, unless REDIS_URL or REDIS_SOCKET is set), the
// web process, registers a user and prints the 201, kills the web process with SIGKILL right after
// that response, then starts a worker process, which sends the welcome email the dead process queued.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { demoProcesses } from '../../scripts/demo-processes.mjs'

const here = fileURLToPath(new URL('.', import.meta.url))
const root = join(here, '../..')
const bun = process.argv.includes('--bun')
const { start, kill, fail, onFinish, run, registerThenKill } = demoProcesses({ timeout: 60_000 })

/** The web or worker process, on Bun or (bundled by start.mjs) on Node. */
const command = (role) =>
  bun ? [join(root, 'node_modules/.bin/bun'), join(here, `src/${role}.ts`)] : [process.execPath, join(here, 'start.mjs'), role]

await run(async () => {
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
    onFinish(() => {
      try {
        process.kill(Number(readFileSync(pidfile, 'utf8')), 'SIGKILL')
      } catch {}
      rmSync(dir, { recursive: true, force: true })
    })
    console.log(`demo: started a throwaway redis-server on ${env.REDIS_SOCKET}`)
  }
  const runtime = bun ? 'Bun' : 'Node'
  console.log(`demo: starting the web process (${runtime})`)
  const web = await start('web', command('web'), { cwd: root, env, ready: /listening on/ })
  await registerThenKill(web)

  console.log(`demo: starting a worker process (${runtime}); nothing else knows about Ada`)
  const worker = await start('worker', command('worker'), { cwd: root, env, ready: /waiting for jobs/ })
  const sent = await worker.waitFor(/\[email\] welcome email to ada@example\.com sent/)
  console.log(`demo: the worker (pid ${worker.pid}) sent the email the killed web process had queued:\n  ${sent}`)
  kill(worker, 'SIGTERM')
  await worker.exited
})
