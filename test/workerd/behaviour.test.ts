import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { exports } from 'cloudflare:workers'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { type BackgroundTasksEnv, backgroundTasks, pendingTasks } from '../../src/index.ts'
import { behaviourSuite } from '../behaviour-suite.ts'
import { createScenarioApp } from '../fixtures/scenario-app.ts'
import { deferred } from '../helpers.ts'

describe('workerd: hand-off to the real ExecutionContext', () => {
  it('answers while the task is pending, and waitOnExecutionContext waits for the task', async () => {
    const gate = deferred()
    const events: string[] = []
    const app = new Hono<BackgroundTasksEnv>()
    app.use(backgroundTasks())
    app.post('/register', (c) => {
      c.var.tasks.add(async function sendWelcomeEmail(to: string) {
        events.push(`sending to ${to}`)
        await gate.promise
        events.push('sent')
      }, 'ada@example.com')
      return c.json({ ok: true }, 201)
    })
    const ctx = createExecutionContext()
    const res = await app.fetch(new Request('http://worker/register', { method: 'POST' }), {}, ctx)
    expect(res.status).toBe(201)
    expect(await res.json()).toEqual({ ok: true })
    expect(events).not.toContain('sent')
    // The work went to waitUntil, not to the in-process runner.
    expect(pendingTasks()).toEqual([])
    gate.resolve()
    await waitOnExecutionContext(ctx)
    expect(events).toEqual(['sending to ada@example.com', 'sent'])
  })
})

describe('workerd: app.fetch with a fresh ExecutionContext per request', () => {
  const app = createScenarioApp()
  behaviourSuite(() => ({
    fetch: async (path, init) => app.fetch(new Request(`http://worker${path}`, init), {}, createExecutionContext()),
  }))
})

describe('workerd: through the Worker entrypoint (exports.default.fetch)', () => {
  behaviourSuite(() => ({
    fetch: (path, init) => exports.default.fetch(new Request(`http://worker${path}`, init)),
  }))
})
