// `node examples/node-postgres/demo.mjs`: the proof that a durable task survives its web process,
// on PostgreSQL with pg-boss. Starts PostgreSQL (a throwaway cluster, unless DATABASE_URL is set),
// the web process, registers a user and prints the 201, kills the web process with SIGKILL right
// after that response, then starts a worker process, which sends the welcome email the dead
// process inserted. Both run under the Node pg-boss 12 needs (22.12 or later).
import { fileURLToPath } from 'node:url'
import { demoProcesses } from '../../scripts/demo-processes.mjs'
import { NODE_FOR_PG_BOSS } from '../../scripts/node-22.mjs'
import { hasPostgres, POSTGRES_INSTALL, startPostgres } from '../../scripts/postgres.mjs'
import { prepare } from './start.mjs'

const root = fileURLToPath(new URL('../..', import.meta.url))
const { start, kill, fail, onFinish, run, registerThenKill } = demoProcesses({ timeout: 90_000 })

await run(async () => {
  const env = { PORT: '0', HOST: '127.0.0.1' }
  if (!process.env.DATABASE_URL) {
    if (!hasPostgres()) fail(`${POSTGRES_INSTALL}; or set DATABASE_URL`)
    const postgres = startPostgres()
    onFinish(() => postgres.stop())
    env.DATABASE_URL = postgres.url
    console.log(`demo: started a throwaway PostgreSQL on ${postgres.host}`)
  }
  const [web, worker] = [await prepare('web'), await prepare('worker')]
  const version = web.node === process.execPath ? process.version : `v${NODE_FOR_PG_BOSS}`
  console.log(`demo: starting the web process (Node ${version}: pg-boss 12 needs Node 22.12 or later)`)
  const server = await start('web', [web.node, web.script], { cwd: root, env, ready: /listening on/ })
  await registerThenKill(server)

  console.log('demo: starting a worker process; nothing else knows about Ada')
  const running = await start('worker', [worker.node, worker.script], { cwd: root, env, ready: /waiting for jobs/ })
  const sent = await running.waitFor(/\[email\] welcome email to ada@example\.com sent/)
  console.log(`demo: the worker (pid ${running.pid}) sent the email the killed web process had inserted:\n  ${sent}`)
  kill(running, 'SIGTERM')
  await running.exited
})
