// The web side of the BullMQ benchmark, on @hono/node-server. `variant`: `bare` (no middleware),
// `inprocess` (one no-op task run here), `durable` (the same task, defineTask(), queued on BullMQ
// before the response). REDIS_SOCKET and QUEUE say where. `/mark?n=K` adds a task that records
// when it started (in-process: kept here, read at /__marks; durable: the worker records it).
import { serve } from '@hono/node-server'
import { Queue } from 'bullmq'
import { Hono } from 'hono'
import { Redis } from 'ioredis'
import { bullmqQueue } from '../../src/bullmq/index.ts'
import { defineTask } from '../../src/durable/index.ts'
import { backgroundTasks } from '../../src/index.ts'

const variant = process.argv[2]
const BODY = { hello: 'world' }
const now = () => performance.timeOrigin + performance.now()

const marks = []
const noop = defineTask('noop', () => {})
const mark = defineTask('mark', (n) => {
  marks.push([n, now()])
})

const app = new Hono()
app.get('/__marks', (c) => c.json(marks.splice(0)))
if (variant === 'inprocess') app.use(backgroundTasks())
else if (variant === 'durable') {
  const connection = new Redis({ path: process.env.REDIS_SOCKET, maxRetriesPerRequest: null })
  const queue = new Queue(process.env.QUEUE, { connection })
  app.use(backgroundTasks({ transport: bullmqQueue(queue, { jobOptions: { removeOnComplete: true, removeOnFail: true } }) }))
} else if (variant !== 'bare') throw new Error(`unknown variant ${variant}`)

if (variant === 'bare') {
  app.get('/', (c) => c.json(BODY))
} else {
  // The same routes in process and durable: only where the middleware sends the tasks differs.
  app.get('/', (c) => {
    c.var.tasks.add(noop)
    return c.json(BODY)
  })
  app.get('/mark', (c) => {
    c.var.tasks.add(mark, Number(c.req.query('n')))
    return c.json(BODY)
  })
}

const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  console.log(JSON.stringify({ port: info.port }))
})
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close()
    process.exit(0)
  })
}
