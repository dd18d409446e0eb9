// The BullMQ web process of the engines benchmark, on @hono/node-server. `variant`: `bare` (no queue),
// `hand` (the handler awaits `queue.add()` itself, with the data and options bullmqQueue() would
// send), `ours` (one defineTask() task through bullmqQueue(): concurrent requests share addBulk
// round trips), `ours-single` (the same with a queue that has no addBulk: one add() per job).
// `/__stats` answers the round trips to Redis and the jobs they carried, and the process's CPU time in µs.
import { serve } from '@hono/node-server'
import { Queue } from 'bullmq'
import { Hono } from 'hono'
import { Redis } from 'ioredis'
import { bullmqQueue } from '../../../src/bullmq/index.ts'
import { defineTask } from '../../../src/durable/index.ts'
import { backgroundTasks } from '../../../src/index.ts'

const variant = process.argv[2]
const BODY = { hello: 'world' }
const connection = new Redis({ path: process.env.REDIS_SOCKET, maxRetriesPerRequest: null })
const queue = new Queue(process.env.QUEUE, { connection })
const writes = { trips: 0, jobs: 0 }
const add = queue.add.bind(queue)
const addBulk = queue.addBulk.bind(queue)
const counted = {
  name: queue.name,
  add: (name, data, opts) => {
    writes.trips++
    writes.jobs++
    return add(name, data, opts)
  },
  addBulk: (jobs) => {
    writes.trips++
    writes.jobs += jobs.length
    return addBulk(jobs)
  },
}
const JOB_OPTIONS = { removeOnComplete: true }
const noop = defineTask('noop', () => {})

const app = new Hono()
app.get('/__stats', (c) => {
  const { user, system } = process.cpuUsage()
  return c.json({ ...writes, cpu: user + system })
})
if (variant === 'bare') app.get('/', (c) => c.json(BODY))
else if (variant === 'hand') {
  app.get('/', async (c) => {
    const id = crypto.randomUUID()
    await counted.add('noop', { task: 'noop', args: [], id, enqueuedAt: Date.now() }, { ...JOB_OPTIONS, jobId: id, attempts: 1 })
    return c.json(BODY)
  })
} else if (variant === 'ours' || variant === 'ours-single') {
  const target = variant === 'ours' ? counted : { name: counted.name, add: counted.add }
  app.use(backgroundTasks({ transport: bullmqQueue(target, { jobOptions: JOB_OPTIONS }) }))
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
