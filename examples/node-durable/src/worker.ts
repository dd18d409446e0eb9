import { bullmqWorker, closeWorker } from '../../../src/bullmq/index.ts'
import { connect, QUEUE } from './redis.ts'
import { tasks } from './tasks.ts'

// The worker process: runs the jobs the web process queued, by task name. Start as many as you like.
const worker = bullmqWorker({ queue: QUEUE, connection: connect(process.env), tasks, worker: { concurrency: 5 } })
worker.on('ready', () => console.log(`worker: waiting for jobs on "${QUEUE}" (pid ${process.pid})`))

// SIGTERM: take no new jobs, give the running ones 8 s, name what did not finish, exit. A job left
// unfinished is taken by another worker once its lock expires (BullMQ's stalled-job recovery).
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, async () => {
    console.log(`worker: ${signal}: closing; waiting up to 8 s for the running jobs`)
    const { finished, unfinished } = await closeWorker(worker, { timeout: 8_000 })
    const left = unfinished.length > 0 ? `; not finished, left to another worker: ${unfinished.join(', ')}` : ''
    console.log(`worker: ${signal}: finished ${finished.length} jobs${left}; exiting with code ${unfinished.length > 0 ? 1 : 0}`)
    process.exit(unfinished.length > 0 ? 1 : 0)
  })
}
