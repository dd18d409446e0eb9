import { SpanKind, trace } from '@opentelemetry/api'
import { Queue, QueueEvents } from 'bullmq'
import { Hono } from 'hono'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { bullmqQueue, bullmqWorker, closeWorker } from '../src/bullmq/index.ts'
import { defineTask } from '../src/durable/index.ts'
import { type BackgroundTasksEnv, backgroundTasks, type TaskMessage } from '../src/index.ts'
import { taskTracing } from '../src/otel/index.ts'
import { settled } from '../src/testing.ts'
import { recordingProvider, spanNamed } from './_support/otel-helpers.ts'
import { describeWithRedis } from './_support/redis.ts'

// Durable tasks on BullMQ, traced: the job's data carries the send's trace context, and the
// worker's CONSUMER span links to the PRODUCER span.
const recorder = recordingProvider()
const closers: (() => Promise<unknown>)[] = []
beforeAll(() => {
  trace.setGlobalTracerProvider(recorder.provider)
})
afterAll(() => {
  trace.disable()
})
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

describeWithRedis('taskTracing() with the BullMQ transport and worker', (redis) => {
  it("the worker's CONSUMER span links to the PRODUCER span through the job's data", async () => {
    const connection = redis().connect()
    const queue = new Queue('traced', { connection })
    const events = new QueueEvents('traced', { connection: redis().connect() })
    closers.push(
      () => queue.close(),
      () => events.close(),
    )
    const welcome = defineTask('welcome', async (to: string) => void to)
    const app = new Hono<BackgroundTasksEnv>()
    app.use(backgroundTasks({ transport: bullmqQueue(queue), instrumentation: taskTracing() }))
    app.post('/register', (c) => {
      c.var.tasks.add(welcome, 'ada@example.com')
      return c.text('created', 201)
    })
    const res = await app.request('/register', { method: 'POST' })
    await res.text()
    await settled(res)
    const producer = spanNamed(recorder.spans(), 'send welcome')
    expect(producer.kind).toBe(SpanKind.PRODUCER)
    expect(producer.attributes).toMatchObject({ 'messaging.system': 'bullmq', 'messaging.destination.name': 'traced' })
    const [job] = await queue.getJobs(['waiting', 'prioritized', 'delayed'])
    const { traceId, spanId } = producer.spanContext()
    expect((job!.data as TaskMessage).trace).toEqual({ traceparent: `00-${traceId}-${spanId}-01` })

    const worker = bullmqWorker({ queue: 'traced', connection, tasks: [welcome], instrumentation: taskTracing() })
    closers.push(() => closeWorker(worker, { timeout: 2_000 }))
    const consumer = spanNamed(await recorder.ended('task welcome'), 'task welcome')
    expect(consumer.kind).toBe(SpanKind.CONSUMER)
    expect(consumer.links.map((link) => link.context.spanId)).toEqual([spanId])
    expect(consumer.spanContext().traceId).toBe(traceId)
    expect(consumer.attributes).toMatchObject({
      'messaging.system': 'bullmq',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'traced',
      'messaging.message.id': job?.id,
    })
  })
})
