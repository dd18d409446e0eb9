import { Hono } from 'hono'
import { describe, expect, it, vi } from 'vitest'
import { type BackgroundTasksEnv, backgroundTasks, pendingTasks, task } from '../src/index.ts'
import { settled } from '../src/testing.ts'
import { deferred, recordingExecutionContext } from './_support/helpers.ts'

describe('a handler that threw [design: Handler failure]', () => {
  it('never starts a task it left out, even when a task is added while the skips are reported', async () => {
    const ran: string[] = []
    const reporting = deferred()
    const release = deferred()
    const { ctx, settled: done } = recordingExecutionContext()
    const app = new Hono<BackgroundTasksEnv>()
    app.use(
      backgroundTasks({
        onError: () => {},
        onTaskEnd: async (info) => {
          if (info.outcome !== 'skipped') return
          reporting.resolve()
          await release.promise
        },
      }),
    )
    app.get('/', (c) => {
      c.var.tasks.add(task(() => void ran.push('audit'), { name: 'audit', always: true }))
      c.var.tasks.add(function chargeCard() {
        ran.push('chargeCard')
      })
      c.var.tasks.add(function sendReceipt() {
        ran.push('sendReceipt')
      })
      // Work the handler started before it failed adds a task while the skips are being reported.
      reporting.promise.then(() => c.var.tasks.add(task(() => void ran.push('late'), { always: true })))
      throw new Error('payment failed')
    })
    // Hono's default error handler logs the handler's error: expected here, so kept out of the output.
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      const res = await app.request('/', {}, {}, ctx)
      expect(res.status).toBe(500)
      await res.text()
      expect(logged.mock.calls).toEqual([[new Error('payment failed')]])
    } finally {
      logged.mockRestore()
    }
    await reporting.promise
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(ran).toEqual([])
    release.resolve()
    await done()
    expect(ran).toEqual(['audit', 'late'])
  })
})

describe('odd return values [design: Failure isolation]', () => {
  const reported = async (fn: () => unknown) => {
    const errors: string[] = []
    const app = new Hono<BackgroundTasksEnv>()
    app.use(backgroundTasks({ onError: (error, info) => void errors.push(`${info.name}: ${(error as Error).message}`) }))
    app.get('/', (c) => {
      c.var.tasks.add(task(fn, { name: 'odd' }))
      c.var.tasks.add(task(() => void errors.push('next ran'), { name: 'next' }))
      return c.text('ok')
    })
    const res = await app.request('/')
    await settled(res)
    return errors
  }

  it('reports a thenable whose then() throws, and goes on', async () => {
    const errors = await reported(() => ({
      // biome-ignore lint/suspicious/noThenProperty: the point of the test.
      then() {
        throw new Error('bad thenable')
      },
    }))
    expect(errors).toEqual(['odd: bad thenable', 'next ran'])
  })

  it('reports a value whose then getter throws, and goes on', async () => {
    const errors = await reported(() => ({
      // biome-ignore lint/suspicious/noThenProperty: the point of the test.
      get then(): never {
        throw new Error('bad getter')
      },
    }))
    expect(errors).toEqual(['odd: bad getter', 'next ran'])
  })
})

describe('a body that cannot be watched [design: One hand-off per request, Visibility]', () => {
  it('still runs the tasks of a response whose body was already read, and releases the work', async () => {
    const ran: string[] = []
    const app = new Hono<BackgroundTasksEnv>()
    app.use(backgroundTasks())
    app.get('/', async (c) => {
      c.var.tasks.add(function afterUsedBody() {
        ran.push('ran')
      })
      const upstream = new Response('x')
      await upstream.text()
      return upstream
    })
    const res = await app.request('/')
    // Passed on as it is, not turned into a 500 by a middleware that tried to read it.
    expect(res.status).toBe(200)
    await settled(res)
    expect(ran).toEqual(['ran'])
    expect(pendingTasks()).toEqual([])
  })
})

describe('AWS Lambda [design: Where the lifetime comes from, Nested work]', () => {
  it('refuses a task added after the reply started, naming it, rather than lose it to the freeze', async () => {
    const errors: string[] = []
    const app = new Hono<BackgroundTasksEnv>()
    app.use(backgroundTasks())
    app.get('/', (c) => {
      const tasks = c.var.tasks
      const body = new ReadableStream({
        async start(controller) {
          // A turn later: the handler has returned, and the reply has started.
          await new Promise((resolve) => setTimeout(resolve, 0))
          try {
            tasks.add(function lateOnLambda() {})
          } catch (error) {
            errors.push((error as Error).message)
          }
          controller.close()
        },
      })
      return c.body(body)
    })
    const res = await app.request('/', {}, { lambdaContext: { functionName: 'f' } })
    await res.text()
    expect(errors).toEqual([
      'tasks.add: on AWS Lambda the tasks of GET / run before the reply, which has already started, so task "lateOnLambda" would be lost; add tasks before the handler returns',
    ])
  })
})
