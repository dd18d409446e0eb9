import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { httpInstrumentationMiddleware } from '@hono/otel'
import { context, SpanKind, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type BackgroundTasksEnv, backgroundTasks, type TaskContext } from '../../src/index.ts'
import { TASK_ATTRIBUTES, taskTracing } from '../../src/otel/index.ts'
import { recordingProvider, spanNamed } from '../_support/otel-helpers.ts'

// Inside workerd (nodejs_compat): @hono/otel for the request, AsyncLocalStorage as the context
// manager, the work handed to the real ExecutionContext's waitUntil.
const recorder = recordingProvider()

/** workerd's AsyncLocalStorage has no disable(): this one leaves it be when the test unregisters it. */
class WorkerdContextManager extends AsyncLocalStorageContextManager {
  override disable(): this {
    return this
  }
}

beforeAll(() => {
  context.setGlobalContextManager(new WorkerdContextManager().enable())
  trace.setGlobalTracerProvider(recorder.provider)
})
afterAll(() => {
  trace.disable()
  context.disable()
})

describe('workerd: taskTracing()', () => {
  it("each attempt is a span linked to its request's span, with its outcome; a retry is a new span", async () => {
    const app = new Hono<BackgroundTasksEnv>()
    app.use(httpInstrumentationMiddleware())
    app.use(backgroundTasks({ instrumentation: taskTracing(), retries: 1, retryDelay: 0, onError: () => {} }))
    app.post('/register', (c) => {
      c.var.tasks.add(async function sendWelcomeEmail(this: TaskContext) {
        trace.getTracer('test').startSpan('smtp').end()
        if (this.attempt === 1) throw new Error('smtp down')
      })
      return c.json({ ok: true }, 201)
    })
    const ctx = createExecutionContext()
    const res = await app.fetch(new Request('http://worker/register', { method: 'POST' }), {}, ctx)
    expect(res.status).toBe(201)
    await res.text()
    await waitOnExecutionContext(ctx)
    const spans = recorder.spans()
    const request = spanNamed(spans, 'POST /register')
    const attempts = spans.filter((span) => span.name === 'task sendWelcomeEmail')
    expect(attempts.map((span) => [span.kind, span.attributes[TASK_ATTRIBUTES.attempt], span.attributes[TASK_ATTRIBUTES.outcome]])).toEqual(
      [
        [SpanKind.INTERNAL, 1, 'error'],
        [SpanKind.INTERNAL, 2, 'success'],
      ],
    )
    for (const span of attempts) {
      expect(span.links.map((link) => link.context.spanId)).toEqual([request.spanContext().spanId])
      expect(span.spanContext().traceId).toBe(request.spanContext().traceId)
    }
    // The span the task made is a child of its attempt's span.
    const smtp = spans.filter((span) => span.name === 'smtp').map((span) => span.parentSpanContext?.spanId)
    expect(smtp).toEqual(attempts.map((span) => span.spanContext().spanId))
  })
})
