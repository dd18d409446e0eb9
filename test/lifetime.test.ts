import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { type BackgroundTasksEnv, backgroundTasks, pendingTasks } from '../src/index.ts'
import { settled } from '../src/testing.ts'
import { deferred, recordingExecutionContext } from './_support/helpers.ts'

const vercelKey = Symbol.for('@vercel/request-context')
const globals = globalThis as Record<symbol, unknown>

const build = (options: Parameters<typeof backgroundTasks>[0] = {}) => {
  const events: string[] = []
  const app = new Hono<BackgroundTasksEnv>()
  app.use(backgroundTasks(options))
  app.get('/', (c) => {
    c.var.tasks.add(() => events.push('task'))
    events.push('handler')
    return c.text('ok')
  })
  return { app, events }
}

afterEach(() => {
  delete globals[vercelKey]
})

describe('where the lifetime comes from, first match wins [design: Where the lifetime comes from]', () => {
  it('prefers the explicit waitUntil option over everything else', async () => {
    const seen: string[] = []
    const { ctx, calls } = recordingExecutionContext()
    const { app } = build({
      waitUntil: (promise, c) => {
        seen.push(c.req.path)
        void promise
      },
    })
    await (await app.request('/', {}, { context: { waitUntil: () => seen.push('netlify') } }, ctx)).text()
    expect(seen).toEqual(['/'])
    expect(calls).toHaveLength(0)
  })

  it('uses c.executionCtx.waitUntil (Workers, service workers, edge-runtime) before Netlify and Vercel', async () => {
    const { ctx, calls, settled: done } = recordingExecutionContext()
    const netlify: unknown[] = []
    globals[vercelKey] = { get: () => ({ waitUntil: () => netlify.push('vercel') }) }
    const { app, events } = build()
    await (await app.request('/', {}, { context: { waitUntil: (p: unknown) => netlify.push(p) } }, ctx)).text()
    await done()
    expect(calls).toHaveLength(1)
    expect(netlify).toEqual([])
    expect(events).toEqual(['handler', 'task'])
  })

  it("uses Netlify's c.env.context.waitUntil, bound to the context", async () => {
    const promises: Promise<unknown>[] = []
    const context = {
      waitUntil(this: unknown, promise: Promise<unknown>) {
        if (this !== context) throw new Error('unbound')
        promises.push(promise)
      },
    }
    const { app, events } = build()
    await (await app.request('/', {}, { context })).text()
    expect(promises).toHaveLength(1)
    await promises[0]
    expect(events).toEqual(['handler', 'task'])
  })

  it("uses Vercel's request context symbol when nothing else is there", async () => {
    const promises: Promise<unknown>[] = []
    const vercel = {
      waitUntil(this: unknown, promise: Promise<unknown>) {
        if (this !== vercel) throw new Error('unbound')
        promises.push(promise)
      },
    }
    globals[vercelKey] = { get: () => vercel }
    const { app, events } = build()
    await (await app.request('/')).text()
    expect(promises).toHaveLength(1)
    await promises[0]
    expect(events).toEqual(['handler', 'task'])
  })

  it("finds Vercel's request context behind a Node-shaped env too (a Vercel Node function)", async () => {
    const promises: Promise<unknown>[] = []
    const vercel = {
      waitUntil(this: unknown, promise: Promise<unknown>) {
        promises.push(promise)
      },
    }
    globals[vercelKey] = { get: () => vercel }
    const { app, events } = build()
    const outgoing = { closed: true, destroyed: false, writableFinished: true, on: () => {} }
    await (await app.request('/', {}, { incoming: {}, outgoing })).text()
    expect(promises).toHaveLength(1)
    await promises[0]
    expect(events).toEqual(['handler', 'task'])
    expect(pendingTasks()).toEqual([])
  })

  it('falls back to the in-process runner, which lists the work until it is done', async () => {
    const gate = deferred()
    const app = new Hono<BackgroundTasksEnv>()
    app.use(backgroundTasks())
    app.get('/work', (c) => {
      c.var.tasks.add(async function sendEmail() {
        await gate.promise
      })
      c.var.tasks.add(function writeAudit() {})
      return c.text('ok')
    })
    const res = await app.request('/work')
    expect(pendingTasks()).toEqual([
      { name: 'sendEmail', state: 'waiting', request: 'GET /work' },
      { name: 'writeAudit', state: 'waiting', request: 'GET /work' },
    ])
    await res.text()
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(pendingTasks()[0]).toEqual({ name: 'sendEmail', state: 'running', request: 'GET /work' })
    gate.resolve()
    await settled(res)
    expect(pendingTasks()).toEqual([])
  })

  it('on AWS Lambda (lambdaContext in env), runs the tasks before replying rather than lose them', async () => {
    const { app, events } = build()
    const res = await app.request('/', {}, { event: {}, lambdaContext: { functionName: 'f' }, requestContext: {} })
    events.push('response')
    expect(await res.text()).toBe('ok')
    expect(events).toEqual(['handler', 'task', 'response'])
  })
})
