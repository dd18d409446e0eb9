import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { SpanKind } from '@opentelemetry/api'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { cloudflareQueue } from '../../src/cloudflare/index.ts'
import { type BackgroundTasksEnv, backgroundTasks, type TaskMessage } from '../../src/index.ts'
import { TASK_ATTRIBUTES, taskTracing } from '../../src/otel/index.ts'
import { recordingProvider, spanNamed } from '../_support/otel-helpers.ts'
import { consumerTracing, type Env, record, runs } from './worker.ts'

// Through a real local Cloudflare Queue: the send is a PRODUCER span, the message carries its
// W3C trace context, and the worker's consumer makes a CONSUMER span linked to it.
const recorder = recordingProvider()
const tracer = recorder.provider.getTracer('test')
const until = { timeout: 4_000, interval: 10 }

beforeAll(() => {
  consumerTracing.tracer = tracer
})
afterAll(() => {
  consumerTracing.tracer = undefined
})

describe('durable tasks traced through a real local Cloudflare Queue', () => {
  it("the consumer's CONSUMER span links to the PRODUCER span through the message", async () => {
    const sent: TaskMessage[] = []
    const TASKS = {
      ...env.TASKS,
      sendBatch: async (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
        const list = [...messages]
        sent.push(...list.map((message) => message.body as TaskMessage))
        return env.TASKS.sendBatch(list, options)
      },
    } as Queue
    const app = new Hono<{ Bindings: Env } & BackgroundTasksEnv>()
    app.use(backgroundTasks({ transport: cloudflareQueue('TASKS'), instrumentation: taskTracing({ tracer }) }))
    app.post('/traced', (c) => {
      c.var.tasks.add(record, 'traced')
      return c.text('ok', 202)
    })
    const ctx = createExecutionContext()
    const res = await app.fetch(new Request('https://worker/traced', { method: 'POST' }), { ...env, TASKS }, ctx)
    await res.text()
    await waitOnExecutionContext(ctx)

    const producer = spanNamed(recorder.spans(), 'send record')
    const { traceId, spanId } = producer.spanContext()
    expect(producer.kind).toBe(SpanKind.PRODUCER)
    expect(producer.attributes).toMatchObject({ 'messaging.system': 'cloudflare_queues', 'messaging.operation.type': 'send' })
    expect(sent.map((message) => message.trace)).toEqual([{ traceparent: `00-${traceId}-${spanId}-01` }])

    const id = sent[0]?.id as string
    await vi.waitFor(() => expect(runs.filter((run) => run.id === id).map((run) => run.outcome)).toEqual(['success']), until)
    const consumer = spanNamed(await recorder.ended('task record'), 'task record')
    expect(consumer.kind).toBe(SpanKind.CONSUMER)
    expect(consumer.links.map((link) => link.context.spanId)).toEqual([spanId])
    expect(consumer.spanContext().traceId).toBe(traceId)
    expect(consumer.attributes).toMatchObject({
      'messaging.system': 'cloudflare_queues',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'tasks',
      'messaging.message.id': expect.any(String),
      [TASK_ATTRIBUTES.id]: id,
      [TASK_ATTRIBUTES.outcome]: 'success',
    })
  })
})
