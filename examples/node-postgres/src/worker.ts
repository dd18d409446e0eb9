import { pgBossWorker } from '../../../src/pg-boss/index.ts'
import { QUEUE, startBoss } from './postgres.ts'
import { tasks } from './tasks.ts'

// The worker process: runs the jobs the web process inserted, by task name. Start as many as you like.
const boss = await startBoss(process.env)
const worker = await pgBossWorker({ boss, queue: QUEUE, tasks, work: { localConcurrency: 5, pollingIntervalSeconds: 1 } })
console.log(`worker: waiting for jobs on "${QUEUE}" (pid ${process.pid})`)

// SIGTERM: take no new jobs, give the running ones 8 s, name what did not finish, exit. A job left
// unfinished goes back to the queue, and another worker takes it after its retry delay.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, async () => {
    console.log(`worker: ${signal}: stopping; waiting up to 8 s for the running jobs`)
    // Later calls (a second signal) get the same result.
    const { finished, unfinished } = await worker.stop({ timeout: 8_000 })
    await boss.stop({ graceful: false })
    const left = unfinished.length > 0 ? `; not finished, handed back to the queue: ${unfinished.join(', ')}` : ''
    console.log(`worker: ${signal}: finished ${finished.length} jobs${left}; exiting with code ${unfinished.length > 0 ? 1 : 0}`)
    process.exit(unfinished.length > 0 ? 1 : 0)
  })
}
