import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { exports } from 'cloudflare:workers'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { type BackgroundTasksEnv, backgroundTasks, pendingTasks } from '../../src/index.ts'
import { settled } from '../../src/testing.ts'
import { behaviourSuite } from '../_support/behaviour-suite.ts'
import { byteSource, deferred, readChunks } from '../_support/helpers.ts'
import { passThroughSuite } from '../_support/pass-through-suite.ts'
import { createScenarioApp } from '../fixtures/scenario-app.ts'

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

describe('workerd: the settled() test helper', () => {
  it('waits for the work of a buffered and of a streamed response', async () => {
    const events: string[] = []
    const app = new Hono<BackgroundTasksEnv>()
    app.use(backgroundTasks())
    app.get('/buffered', (c) => {
      c.var.tasks.add(async () => {
        await new Promise((resolve) => setTimeout(resolve, 1))
        events.push('buffered task')
      })
      return c.json({ ok: true })
    })
    app.get('/streamed', (c) => {
      c.var.tasks.add(() => events.push('streamed task'))
      const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>()
      const writer = writable.getWriter()
      setTimeout(async () => {
        await writer.write(new TextEncoder().encode('later'))
        await writer.close()
      }, 1)
      return c.body(readable)
    })
    const buffered = await app.fetch(new Request('http://worker/buffered'), {}, createExecutionContext())
    expect(buffered.headers.get('content-type')).toBe('application/json')
    await settled(buffered)
    expect(events).toEqual(['buffered task'])
    expect(await buffered.json()).toEqual({ ok: true })

    const streamed = await app.fetch(new Request('http://worker/streamed'), {}, createExecutionContext())
    await expect(settled(streamed)).rejects.toThrow('settled: the body of this response has not been read')
    expect(await streamed.text()).toBe('later')
    await settled(streamed)
    expect(events).toEqual(['buffered task', 'streamed task'])
  })
})

describe('workerd: app.fetch with a fresh ExecutionContext per request', () => {
  const app = createScenarioApp()
  const target = () => ({
    fetch: async (path: string, init?: RequestInit) => app.fetch(new Request(`http://worker${path}`, init), {}, createExecutionContext()),
  })
  behaviourSuite(target)
  passThroughSuite(target, { inProcess: true })
})

describe('workerd: through the Worker entrypoint (exports.default.fetch)', () => {
  behaviourSuite(() => ({
    fetch: (path, init) => exports.default.fetch(new Request(`http://worker${path}`, init)),
  }))
})

describe('workerd: a byte-stream body read in 64 KiB buffers [design: The response passes through untouched]', () => {
  it('hands small chunks on in buffers of their own size, and runs the task at the end', async () => {
    const ran: string[] = []
    const app = new Hono<BackgroundTasksEnv>()
    app.use(backgroundTasks())
    app.get('/bytes', (c) => {
      c.get('tasks').add(() => {
        ran.push('task')
      })
      return c.body(byteSource(200, 10, { respondOnClose: true }))
    })
    expect(navigator.userAgent).toBe('Cloudflare-Workers')
    const res = await app.request('/bytes')
    const { total, held } = await readChunks(res)
    expect(total).toBe(2_000)
    // Each chunk may wait in a socket's queue downstream: it must not keep a 64 KiB read buffer alive.
    expect(held).toBeLessThanOrEqual(2 * total)
    await settled(res)
    expect(ran).toEqual(['task'])
  })
})
