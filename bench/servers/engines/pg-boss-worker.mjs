// The worker side of the pg-boss throughput benchmark, run under Node >= 22.12. `variant`: `fill`
// (inserts TOTAL no-op jobs as pgBossQueue() inserts them, in inserts of 1,000, then prints
// `{"ready":true}` and waits to be stopped), `ours` (pgBossWorker() with the no-op task), `bare` / `bare2` (a plain `boss.work()`
// calling the same function, with the same work options WORK, a JSON object), `bare-results` (the same
// with the option pgBossWorker() adds: `perJobResults`, a result per job). A worker prints
// `{"ready":true}` once it polls; when it has run TOTAL jobs it waits until Postgres has them all
// completed and writes `{ first, at, cpu }` to RESULT_FILE: when its first job started, when the last
// completion was seen, and its CPU time in between (µs). PG_HOST is the socket's folder.
import { writeFileSync } from 'node:fs'
import pg from 'pg'
import { PgBoss } from 'pg-boss'
import { defineTask } from '../../../src/durable/index.ts'
import { pgBossWorker } from '../../../src/pg-boss/index.ts'
import { QUEUE_SETTINGS } from '../../../src/pg-boss/queue.ts'
import { retryOptionsFor } from '../../../src/pg-boss/transport.ts'

const variant = process.argv[2]
const queue = process.env.QUEUE
const total = Number(process.env.TOTAL)
const connection = { host: process.env.PG_HOST, user: 'postgres', database: 'postgres' }
// No maintenance or cron in these processes: nothing but the jobs runs while they are timed.
const boss = new PgBoss({ ...connection, supervise: false, schedule: false })
boss.on('error', (error) => console.error('pg-boss error:', error))
await boss.start()
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    await boss.stop({ graceful: false, wait: false }).catch(() => {})
    process.exit(0)
  })
}
await boss.createQueue(`${queue}-dead`)
await boss.createQueue(queue, { ...QUEUE_SETTINGS, deadLetter: `${queue}-dead` })

if (variant === 'fill') {
  const options = { heartbeatSeconds: QUEUE_SETTINGS.heartbeatSeconds, ...retryOptionsFor(undefined) }
  for (let i = 0; i < total; i += 1000) {
    const jobs = Array.from({ length: Math.min(1000, total - i) }, () => {
      const id = crypto.randomUUID()
      return { ...options, id, data: { task: 'noop', args: [], id, enqueuedAt: Date.now(), retries: 0 } }
    })
    await boss.insert(queue, jobs)
  }
  // Stopped by the benchmark once it has read this line (exiting at once could beat the line to it).
  console.log(JSON.stringify({ ready: true }))
  await new Promise(() => {})
}

const now = () => performance.timeOrigin + performance.now()
const client = new pg.Client(connection)
await client.connect()
let first = 0
let cpu0
let done = 0
const started = () => {
  if (first === 0) {
    first = now()
    cpu0 = process.cpuUsage()
  }
}
/** After the last job ran: polls until Postgres has every job completed (its completion is written after the handler). */
const ran = async () => {
  if (++done !== total) return
  for (;;) {
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state = 'completed'`, [queue])
    if (rows[0].n >= total) break
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  const cpu = process.cpuUsage(cpu0)
  writeFileSync(process.env.RESULT_FILE, JSON.stringify({ first, at: now(), cpu: cpu.user + cpu.system }))
}

// The function both workers run for a no-op job.
const noopFn = () => {}
const work = JSON.parse(process.env.WORK)
if (variant === 'ours') {
  const noop = defineTask('noop', () => {
    started()
    noopFn()
    void ran()
  })
  await pgBossWorker({ boss, queue, tasks: [noop], work })
} else if (variant === 'bare' || variant === 'bare2') {
  await boss.work(queue, work, async (jobs) => {
    for (const job of jobs) {
      started()
      noopFn(...job.data.args)
      void ran()
    }
  })
} else if (variant === 'bare-results') {
  // The options pgBossWorker() adds to work(): each job settled by its own result, jobs with their metadata.
  await boss.work(queue, { ...work, perJobResults: true }, async (jobs) =>
    jobs.map((job) => {
      started()
      noopFn(...job.data.args)
      void ran()
      return { id: job.id, status: 'completed' }
    }),
  )
} else throw new Error(`unknown variant ${variant}`)
console.log(JSON.stringify({ ready: true }))
