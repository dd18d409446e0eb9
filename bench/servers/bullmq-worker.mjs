// The worker side of the BullMQ benchmark. `variant`: `ours` (bullmqWorker() with the no-op task)
// or `bare` (a plain BullMQ Worker calling the same function). Prints `{"ready":true}` once ready (the
// bench's process helper waits for that line). It records in Redis when its first job started
// (`bench:first`) and when its TOTAL-th job completed, with its CPU time in between (`bench:end`); a `mark` job pushes
// `n startedAt` to `bench:marks`.
import { Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { bullmqWorker } from '../../src/bullmq/index.ts'
import { defineTask } from '../../src/durable/index.ts'

const variant = process.argv[2]
const connection = new Redis({ path: process.env.REDIS_SOCKET, maxRetriesPerRequest: null })
const stats = new Redis({ path: process.env.REDIS_SOCKET })
const concurrency = Number(process.env.CONCURRENCY ?? 20)
const now = () => performance.timeOrigin + performance.now()

// The function both workers run for a no-op job.
const noopFn = () => {}
const markFn = (n) => void stats.rpush('bench:marks', `${n} ${now()}`)

let first = 0
let cpu0
let done = 0
const started = () => {
  if (first === 0) {
    first = now()
    cpu0 = process.cpuUsage()
    void stats.set('bench:first', String(first))
  }
}
const total = Number(process.env.TOTAL ?? 0)
const completed = () => {
  if (++done === total) {
    const cpu = process.cpuUsage(cpu0)
    void stats.set('bench:end', JSON.stringify({ at: now(), cpu: cpu.user + cpu.system }))
  }
}

let worker
if (variant === 'ours') {
  const noop = defineTask('noop', () => {
    started()
    return noopFn()
  })
  const mark = defineTask('mark', (n) => markFn(n))
  worker = bullmqWorker({ queue: process.env.QUEUE, connection, tasks: [noop, mark], worker: { concurrency } })
} else if (variant === 'bare' || variant === 'bare2') {
  worker = new Worker(
    process.env.QUEUE,
    async (job) => {
      if (job.name === 'mark') return markFn(...job.data.args)
      started()
      return noopFn(...job.data.args)
    },
    { connection, concurrency },
  )
} else throw new Error(`unknown variant ${variant}`)
worker.on('completed', completed)
worker.on('ready', () => console.log(JSON.stringify({ ready: true })))
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    await worker.close()
    process.exit(0)
  })
}
