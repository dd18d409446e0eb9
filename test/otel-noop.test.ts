import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { httpInstrumentationMiddleware } from '@hono/otel'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { queueConsumer } from '../src/cloudflare/index.ts'
import { defineTask } from '../src/durable/index.ts'
import { type BackgroundTasksEnv, backgroundTasks, type TaskMessage, type TaskTransport } from '../src/index.ts'
import { taskTracing } from '../src/otel/index.ts'
import { deferred } from './_support/helpers.ts'

// No tracer provider, no context manager, no subscriber on the tracing channel: taskTracing() is
// installed the way the README says, and nothing changes but nothing breaks either.
const sent: TaskMessage[] = []
const transport: TaskTransport = {
  async send(messages) {
    sent.push(...messages)
  },
}
const ran: string[] = []
const errors: string[] = []
const done = deferred()
const welcome = defineTask('welcome', (to: string) => {
  ran.push(`welcome ${to}`)
})

const app = new Hono<BackgroundTasksEnv>()
app.use(httpInstrumentationMiddleware())
app.use(
  backgroundTasks({
    instrumentation: taskTracing(),
    onError: (error, info) => {
      errors.push(`${info.name}: ${(error as Error).message}`)
    },
  }),
)
app.post('/work', (c) => {
  c.var.tasks.add(async function fine() {
    ran.push('fine')
  })
  c.var.tasks.add(function fails() {
    throw new Error('boom')
  })
  c.var.tasks.add(defineTask('queued', () => {}, { transport }))
  c.var.tasks.add(() => done.resolve())
  return c.text('ok')
})

let server: ReturnType<typeof serve>
let base = ''
beforeAll(async () => {
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      base = `http://127.0.0.1:${info.port}`
      resolve()
    })
  })
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

describe('taskTracing() with no tracer provider registered', () => {
  it('runs and sends the tasks as without it; messages carry no trace context; a consumer runs them', async () => {
    const logged = vi.spyOn(console, 'error')
    const res = await fetch(`${base}/work`, { method: 'POST' })
    expect(await res.text()).toBe('ok')
    await done.promise
    expect(ran).toEqual(['fine'])
    expect(errors).toEqual(['fails: boom'])
    expect(sent).toHaveLength(1)
    expect(sent[0]).not.toHaveProperty('trace')

    const acked = deferred()
    const consume = queueConsumer({ tasks: [welcome], instrumentation: taskTracing() })
    const body = { task: 'welcome', args: ['ada@example.com'], id: 'task-1', enqueuedAt: 0 }
    await consume({ queue: 'tasks', messages: [{ id: 'msg-1', attempts: 1, body, ack: () => acked.resolve(), retry: () => {} }] }, {})
    await acked.promise
    expect(ran).toEqual(['fine', 'welcome ada@example.com'])
    expect(logged).not.toHaveBeenCalled()
  })
})
