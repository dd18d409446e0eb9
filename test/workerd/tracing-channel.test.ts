import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { tracingChannel } from 'node:diagnostics_channel'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { type BackgroundTasksEnv, backgroundTasks, TASK_CHANNEL, type TaskChannelMessage } from '../../src/index.ts'

// With nodejs_compat, workerd has process.getBuiltinModule('node:diagnostics_channel'): attempts are published there too.
describe('workerd: the tracing channel', () => {
  it('sees start, end and error for each attempt', async () => {
    const channel = tracingChannel<unknown, TaskChannelMessage>(TASK_CHANNEL)
    const events: string[] = []
    const on = (event: string) => (message: TaskChannelMessage) => {
      events.push(`${event} ${message.name}${message.outcome ? ` ${message.outcome}` : ''}`)
    }
    const subscribers = { start: on('start'), end: on('end'), asyncStart: on('asyncStart'), asyncEnd: on('asyncEnd'), error: on('error') }
    channel.subscribe(subscribers)
    try {
      const app = new Hono<BackgroundTasksEnv>()
      app.use(backgroundTasks({ onError: () => {} }))
      app.post('/register', (c) => {
        c.var.tasks.add(async function sendEmail() {})
        c.var.tasks.add(function audit() {
          throw new Error('audit log full')
        })
        return c.text('ok')
      })
      const ctx = createExecutionContext()
      const res = await app.fetch(new Request('http://worker/register', { method: 'POST' }), {}, ctx)
      await res.text()
      await waitOnExecutionContext(ctx)
    } finally {
      channel.unsubscribe(subscribers)
    }
    expect(events).toEqual([
      'start sendEmail',
      'end sendEmail',
      'asyncStart sendEmail success',
      'asyncEnd sendEmail success',
      'start audit',
      'error audit error',
      'end audit error',
    ])
  })
})
