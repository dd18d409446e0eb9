// The pg-boss web process of the engines benchmark, on @hono/node-server, run under Node >= 22.12
// (scripts/node-22.mjs). `variant`: `bare` (no queue), `hand` (the handler awaits `boss.send()` itself,
// with the data and job options pgBossQueue() would insert: the task message as data, its id as the
// job's id, retryLimit 1, 1 s doubling backoff up to an hour, heartbeat 30 s), `ours` (one defineTask()
// task through pgBossQueue(): concurrent requests share one insert). Both queue on QUEUE, created at
// start-up with the settings the library creates it with. `/__stats` answers the round trips to
// Postgres that wrote jobs (`send()` and `insert()` calls), the jobs they carried, and the process's
// CPU time in µs. PG_HOST is the socket's folder.
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { PgBoss } from 'pg-boss'
import { defineTask } from '../../../src/durable/index.ts'
import { backgroundTasks } from '../../../src/index.ts'
import { pgBossQueue } from '../../../src/pg-boss/index.ts'
import { QUEUE_SETTINGS } from '../../../src/pg-boss/queue.ts'
import { retryOptionsFor } from '../../../src/pg-boss/transport.ts'

const variant = process.argv[2]
const queue = process.env.QUEUE
const BODY = { hello: 'world' }
const writes = { trips: 0, jobs: 0 }

let boss
if (variant !== 'bare') {
  boss = new PgBoss({ host: process.env.PG_HOST, user: 'postgres', database: 'postgres' })
  boss.on('error', (error) => console.error('pg-boss error:', error))
  await boss.start()
  // The queue and its dead-letter queue as pgBossQueue() creates them (a no-op when they exist).
  await boss.createQueue(`${queue}-dead`)
  await boss.createQueue(queue, { ...QUEUE_SETTINGS, deadLetter: `${queue}-dead` })
  const send = boss.send.bind(boss)
  const insert = boss.insert.bind(boss)
  boss.send = (...args) => {
    writes.trips++
    writes.jobs++
    return send(...args)
  }
  boss.insert = (name, jobs, options) => {
    writes.trips++
    writes.jobs += jobs.length
    return insert(name, jobs, options)
  }
}

const app = new Hono()
app.get('/__stats', (c) => {
  const { user, system } = process.cpuUsage()
  return c.json({ ...writes, cpu: user + system })
})
if (variant === 'bare') app.get('/', (c) => c.json(BODY))
else if (variant === 'hand') {
  // What pgBossQueue() inserts for a task without retries, written as a user would: one send() per request.
  const options = { heartbeatSeconds: QUEUE_SETTINGS.heartbeatSeconds, ...retryOptionsFor(undefined) }
  app.get('/', async (c) => {
    const id = crypto.randomUUID()
    await boss.send(queue, { task: 'noop', args: [], id, enqueuedAt: Date.now(), retries: 0 }, { ...options, id })
    return c.json(BODY)
  })
} else if (variant === 'ours') {
  const noop = defineTask('noop', () => {})
  app.use(backgroundTasks({ transport: pgBossQueue(boss, { queue }) }))
  app.get('/', (c) => {
    c.var.tasks.add(noop)
    return c.json(BODY)
  })
} else throw new Error(`unknown variant ${variant}`)

const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  console.log(JSON.stringify({ port: info.port }))
})
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close()
    process.exit(0)
  })
}
