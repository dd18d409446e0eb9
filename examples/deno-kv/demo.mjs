// `node examples/deno-kv/demo.mjs`: the proof that a durable task survives its web process, on
// Deno KV queues. Makes a KV store (a SQLite file in a temporary directory), starts the web process
// on Deno, registers a user and prints the 201, kills the web process with SIGKILL right after that
// response, then starts a worker process on Deno, which finds the message when it opens the store
// and sends the welcome email the dead process enqueued.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { demoProcesses } from '../../scripts/demo-processes.mjs'

const root = fileURLToPath(new URL('../..', import.meta.url))
const { start, kill, fail, onFinish, run, registerThenKill } = demoProcesses({ timeout: 60_000 })

/** The Deno binary of the npm `deno` dev dependency (or its platform package), else `deno` on the PATH. */
const denoBinary = () => {
  const exe = process.platform === 'win32' ? 'deno.exe' : 'deno'
  const target = `${process.platform}-${process.arch}${process.platform === 'linux' ? '-glibc' : ''}`
  for (const candidate of [join(root, 'node_modules/deno', exe), join(root, 'node_modules/@deno', target, exe)]) {
    if (existsSync(candidate)) return candidate
  }
  return 'deno'
}

await run(async () => {
  const deno = denoBinary()
  const version = spawnSync(deno, ['--version'], { encoding: 'utf8', env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' } })
  if (version.status !== 0) fail('Deno is not installed: `npm install` (it is a dev dependency), or put `deno` on the PATH')
  const dir = mkdtempSync(join(tmpdir(), 'deno-kv-'))
  onFinish(() => rmSync(dir, { recursive: true, force: true }))
  const env = { KV_PATH: join(dir, 'tasks.sqlite3'), PORT: '0', HOST: '127.0.0.1', DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' }
  console.log(`demo: the KV store is ${env.KV_PATH}, a local SQLite file`)
  /** `deno run` of the web or worker process, allowed to read and write the store's folder only. */
  const command = (role) => [
    ...[deno, 'run', '--unstable-kv', '--allow-net', '--allow-env', `--allow-read=${dir}`, `--allow-write=${dir}`],
    `examples/deno-kv/src/${role}.ts`,
  ]

  const runtime = `Deno ${/^deno (\S+)/.exec(version.stdout)?.[1] ?? ''}`.trim()
  console.log(`demo: starting the web process (${runtime}), with no worker`)
  const web = await start('web', command('web'), { cwd: root, env, ready: /listening on/ })
  await registerThenKill(web)

  console.log('demo: starting a worker process (Deno), which finds the message when it opens the store; nothing else knows about Ada')
  const worker = await start('worker', command('worker'), { cwd: root, env, ready: /waiting for messages/ })
  const sent = await worker.waitFor(/\[email\] welcome email to ada@example\.com sent/)
  console.log(`demo: the worker (pid ${worker.pid}) sent the email the killed web process had enqueued:\n  ${sent}`)
  kill(worker, 'SIGTERM')
  await worker.exited
})
