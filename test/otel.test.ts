import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { httpInstrumentationMiddleware } from '@hono/otel'
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { Hono } from 'hono'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { queueConsumer } from '../src/cloudflare/index.ts'
import { defineTask, parseTaskMessage } from '../src/durable/index.ts'
import { type BackgroundTasksEnv, drainTasks, type TaskContext, type TaskMessage, type TaskTransport, task } from '../src/index.ts'
import { backgroundTasks } from '../src/middleware.ts'
import { TASK_ATTRIBUTES, taskTracing } from '../src/otel/index.ts'
import { deferred } from './_support/helpers.ts'
import { recordingProvider, spanNamed } from './_support/otel-helpers.ts'

// @hono/otel as the request's instrumentation on a real @hono/node-server socket, the SDK's
// InMemorySpanExporter behind the global tracer provider, AsyncLocalStorage as the context manager.
const recorder = recordingProvider()
const tracer = () => trace.getTracer('test')
const idOf = (span: ReadableSpan) => span.spanContext().spanId
const linksOf = (span: ReadableSpan) => span.links.map((link) => link.context.spanId)

/** The transport of the durable tests: keeps what it was given. */
const sent: TaskMessage[] = []
const transport: TaskTransport = {
  system: 'test_queue',
  destination: 'tasks',
  async send(messages) {
    sent.push(...messages)
  },
}
const welcome = defineTask('welcome', async function (this: TaskContext, to: string) {
  tracer().startSpan(`email ${to}`).end()
})
const drainStarted = deferred()

const app = new Hono<BackgroundTasksEnv>()
app.use(httpInstrumentationMiddleware({ serviceName: 'test' }))
app.use(backgroundTasks({ instrumentation: taskTracing(), transport, timeout: 20, onError: () => {} }))
app.post('/register/:user', (c) => {
  c.var.tasks.add(async function sendWelcomeEmail(to: string) {
    // Spans the task makes are its children: its span is active while it runs.
    await tracer().startActiveSpan('smtp', async (span) => {
      await Promise.resolve()
      span.end()
    })
    void to
  }, 'ada@example.com')
  return c.json({ ok: true }, 201)
})
app.post('/inside-span', (c) =>
  tracer().startActiveSpan('db insert', (span) => {
    c.var.tasks.add(function audit() {})
    span.end()
    return c.text('ok')
  }),
)
app.post('/outcomes', (c) => {
  c.var.tasks.add(function fails() {
    throw new TypeError('smtp down')
  })
  c.var.tasks.add(function hangs(this: TaskContext) {
    return new Promise((_, reject) => this.signal.addEventListener('abort', () => reject(this.signal.reason)))
  })
  c.var.tasks.add(
    task(
      function flaky(this: TaskContext) {
        if (this.attempt === 1) throw new Error('first try')
      },
      { retries: 1, retryDelay: 0 },
    ),
  )
  return c.text('ok')
})
app.post('/drain', (c) => {
  c.var.tasks.add(
    task(
      function longJob(this: TaskContext) {
        drainStarted.resolve()
        return new Promise((_, reject) =>
          this.signal.addEventListener('abort', () => reject(new Error('stopped', { cause: this.signal.reason }))),
        )
      },
      { timeout: false },
    ),
  )
  return c.text('ok')
})
app.post('/nested', (c) => {
  c.var.tasks.add(function parent() {
    c.var.tasks.add(function child() {})
  })
  return c.text('ok')
})
app.post('/durable', (c) => {
  c.var.tasks.add(welcome, 'ada@example.com')
  return c.text('ok', 202)
})

let server: ReturnType<typeof serve>
let base = ''
beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  trace.setGlobalTracerProvider(recorder.provider)
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      base = `http://127.0.0.1:${info.port}`
      resolve()
    })
  })
})
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
  trace.disable()
  context.disable()
})
beforeEach(() => {
  recorder.reset()
  sent.length = 0
})

const post = async (path: string) => {
  const res = await fetch(base + path, { method: 'POST' })
  await res.text()
  return res
}

describe('taskTracing() with @hono/otel on node-server: a span per attempt, linked to its request [design: Context travels with the work]', () => {
  it("a task's span starts after the request's span ended, in the same trace, a child of and linked to it", async () => {
    expect((await post('/register/ada')).status).toBe(201)
    const spans = await recorder.ended('task sendWelcomeEmail')
    const request = spanNamed(spans, 'POST /register/:user')
    const sending = spanNamed(spans, 'task sendWelcomeEmail')
    expect(recorder.order()).toEqual([
      'start POST /register/:user',
      'end POST /register/:user',
      'start task sendWelcomeEmail',
      'start smtp',
      'end smtp',
      'end task sendWelcomeEmail',
    ])
    expect(sending.kind).toBe(SpanKind.INTERNAL)
    expect(sending.spanContext().traceId).toBe(request.spanContext().traceId)
    expect(sending.parentSpanContext?.spanId).toBe(idOf(request))
    expect(linksOf(sending)).toEqual([idOf(request)])
    expect(spanNamed(spans, 'smtp').parentSpanContext?.spanId).toBe(idOf(sending))
    expect(sending.attributes).toEqual({
      [TASK_ATTRIBUTES.name]: 'sendWelcomeEmail',
      [TASK_ATTRIBUTES.id]: expect.stringMatching(/^[\da-f-]{36}$/),
      [TASK_ATTRIBUTES.attempt]: 1,
      [TASK_ATTRIBUTES.retry]: false,
      [TASK_ATTRIBUTES.outcome]: 'success',
      [TASK_ATTRIBUTES.duration]: expect.any(Number),
    })
    expect(sending.status.code).toBe(SpanStatusCode.UNSET)
    expect(sending.instrumentationScope.name).toBe('hono-background-tasks')
  })

  it('links to the span active when add() was called', async () => {
    await post('/inside-span')
    const spans = await recorder.ended('task audit')
    const insert = spanNamed(spans, 'db insert')
    expect(linksOf(spanNamed(spans, 'task audit'))).toEqual([idOf(insert)])
    expect(spanNamed(spans, 'task audit').parentSpanContext?.spanId).toBe(idOf(insert))
  })

  it('error, timeout and retry: outcome, status, exception; a retry is a new span marked as one', async () => {
    await post('/outcomes')
    const spans = await recorder.ended('task flaky', 2)
    const request = spanNamed(spans, 'POST /outcomes')

    const fails = spanNamed(spans, 'task fails')
    expect(fails.attributes[TASK_ATTRIBUTES.outcome]).toBe('error')
    expect(fails.attributes['error.type']).toBe('TypeError')
    expect(fails.status).toEqual({ code: SpanStatusCode.ERROR, message: 'smtp down' })
    expect(fails.events.map((event) => [event.name, event.attributes?.['exception.message']])).toEqual([['exception', 'smtp down']])

    const hangs = spanNamed(spans, 'task hangs')
    expect(hangs.attributes[TASK_ATTRIBUTES.outcome]).toBe('timeout')
    expect(hangs.attributes['error.type']).toBe('TaskTimeoutError')
    expect(hangs.status).toEqual({ code: SpanStatusCode.ERROR, message: 'timed out: task "hangs" timed out after 20 ms' })

    const flaky = spans.filter((span) => span.name === 'task flaky')
    expect(
      flaky.map((span) => [
        span.attributes[TASK_ATTRIBUTES.attempt],
        span.attributes[TASK_ATTRIBUTES.retry],
        span.attributes[TASK_ATTRIBUTES.outcome],
      ]),
    ).toEqual([
      [1, false, 'error'],
      [2, true, 'success'],
    ])
    expect(flaky[1]?.attributes[TASK_ATTRIBUTES.id]).toBe(flaky[0]?.attributes[TASK_ATTRIBUTES.id])
    expect(idOf(flaky[1] as ReadableSpan)).not.toBe(idOf(flaky[0] as ReadableSpan))
    for (const span of [fails, hangs, ...flaky]) expect(linksOf(span)).toEqual([idOf(request)])
  })

  it('an attempt aborted by a drain is told apart from a thrown error and a timeout', async () => {
    await post('/drain')
    await drainStarted.promise
    expect(await drainTasks({ timeout: 1 })).toEqual({ finished: [], unfinished: ['longJob'] })
    const span = spanNamed(await recorder.ended('task longJob'), 'task longJob')
    expect(span.attributes[TASK_ATTRIBUTES.outcome]).toBe('aborted')
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'aborted: stopped' })
  })

  it("a nested task's span is a child of, and linked to, the task that added it", async () => {
    await post('/nested')
    const spans = await recorder.ended('task child')
    const parent = spanNamed(spans, 'task parent')
    const child = spanNamed(spans, 'task child')
    expect(child.parentSpanContext?.spanId).toBe(idOf(parent))
    expect(linksOf(child)).toEqual([idOf(parent)])
  })
})

describe('taskTracing() for durable tasks: the send is a PRODUCER span, the consumer a CONSUMER span linked through the message', () => {
  it('the message carries the W3C trace context of the send, and the consumer links to it', async () => {
    expect((await post('/durable')).status).toBe(202)
    const spans = await recorder.ended('send welcome')
    const request = spanNamed(spans, 'POST /durable')
    const producer = spanNamed(spans, 'send welcome')
    expect(producer.kind).toBe(SpanKind.PRODUCER)
    expect(producer.parentSpanContext?.spanId).toBe(idOf(request))
    expect(linksOf(producer)).toEqual([idOf(request)])
    expect(producer.attributes).toMatchObject({
      'messaging.system': 'test_queue',
      'messaging.destination.name': 'tasks',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      [TASK_ATTRIBUTES.name]: 'welcome',
      [TASK_ATTRIBUTES.outcome]: 'success',
    })
    expect(sent).toHaveLength(1)
    const { traceId, spanId } = producer.spanContext()
    expect(sent[0]?.trace).toEqual({ traceparent: `00-${traceId}-${spanId}-01` })

    // The queue carries the message as JSON; another process consumes it.
    const body = JSON.parse(JSON.stringify(sent[0]))
    const acked = deferred()
    const consume = queueConsumer({ tasks: [welcome], instrumentation: taskTracing() })
    await consume({ queue: 'tasks', messages: [{ id: 'msg-1', attempts: 1, body, ack: () => acked.resolve(), retry: () => {} }] }, {})
    await acked.promise
    const consumed = await recorder.ended('task welcome')
    const consumer = spanNamed(consumed, 'task welcome')
    expect(consumer.kind).toBe(SpanKind.CONSUMER)
    expect(linksOf(consumer)).toEqual([spanId])
    expect(consumer.spanContext().traceId).toBe(traceId)
    expect(consumer.parentSpanContext).toMatchObject({ spanId, isRemote: true })
    expect(consumer.attributes).toMatchObject({
      'messaging.system': 'cloudflare_queues',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': 'tasks',
      'messaging.message.id': 'msg-1',
      [TASK_ATTRIBUTES.id]: (parseTaskMessage(body) as TaskMessage).id,
      [TASK_ATTRIBUTES.attempt]: 1,
      [TASK_ATTRIBUTES.outcome]: 'success',
    })
    // The task's own span is a child of the consumer span.
    expect(spanNamed(consumed, 'email ada@example.com').parentSpanContext?.spanId).toBe(idOf(consumer))
  })

  it("inside the consumer's own span, that span is the parent and the send stays a link; a message without trace context has no link", async () => {
    const producer = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) }
    const message = (id: string, trace?: unknown) => ({
      id,
      attempts: 3,
      body: { task: 'welcome', args: ['x'], id: `task-${id}`, enqueuedAt: 0, trace },
      ack: () => {},
      retry: () => {},
    })
    const consume = queueConsumer({ tasks: [welcome], instrumentation: taskTracing() })
    await tracer().startActiveSpan('queue batch', async (batch) => {
      await consume({ queue: 'tasks', messages: [message('traced', { traceparent: `00-${producer.traceId}-${producer.spanId}-01` })] }, {})
      batch.end()
    })
    await consume({ queue: 'tasks', messages: [message('untraced'), message('broken', { traceparent: '00-nothex-01' })] }, {})
    const spans = (await recorder.ended('task welcome', 3)).filter((span) => span.name === 'task welcome')
    const batch = spanNamed(recorder.spans(), 'queue batch')
    expect(spans.map((span) => [span.attributes['messaging.message.id'], span.parentSpanContext?.spanId, linksOf(span)])).toEqual([
      ['traced', idOf(batch), [producer.spanId]],
      ['untraced', undefined, []],
      ['broken', undefined, []],
    ])
    expect(spans[0]?.attributes[TASK_ATTRIBUTES.retry]).toBe(true)
  })
})
