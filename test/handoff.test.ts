import { type Context, Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { type BackgroundTasksEnv, backgroundTasks, pendingTasks } from '../src/index.ts'
import { deferred, recordingExecutionContext } from './_support/helpers.ts'

const appWith = (handler: (c: Context<BackgroundTasksEnv>) => Response) => {
  const app = new Hono<BackgroundTasksEnv>()
  app.use(backgroundTasks({ onError: () => {} }))
  app.get('/', handler)
  return app
}

describe('hand-off to the platform waitUntil [design: One hand-off per request]', () => {
  it('calls waitUntil once per request, bound to its owner, before the response is returned', async () => {
    const { ctx, calls } = recordingExecutionContext()
    const gate = deferred()
    const app = appWith((c) => {
      c.var.tasks.add(() => gate.promise)
      c.var.tasks.add(() => {})
      c.var.tasks.add(async () => {})
      return c.text('ok')
    })
    const res = await app.request('/', {}, {}, ctx)
    expect(calls).toHaveLength(1)
    expect(calls[0]?.boundToOwner).toBe(true)
    expect(pendingTasks()).toEqual([])
    let done = false
    calls[0]?.promise.then(() => {
      done = true
    })
    expect(await res.text()).toBe('ok')
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(done).toBe(false)
    gate.resolve()
    await calls[0]?.promise
    expect(done).toBe(true)
  })

  it('hands over a promise that resolves even when every task fails', async () => {
    const { ctx, calls } = recordingExecutionContext()
    const app = appWith((c) => {
      c.var.tasks.add(() => {
        throw new Error('one')
      })
      c.var.tasks.add(() => Promise.reject(new Error('two')))
      return c.text('ok')
    })
    await (await app.request('/', {}, {}, ctx)).text()
    await expect(calls[0]?.promise).resolves.toBeUndefined()
  })

  it('does not call waitUntil for a request without tasks', async () => {
    const { ctx, calls } = recordingExecutionContext()
    const app = appWith((c) => c.text('ok'))
    await (await app.request('/', {}, {}, ctx)).text()
    expect(calls).toHaveLength(0)
  })

  it('hands off tasks added after the handler returned, inside a stream callback', async () => {
    const { ctx, calls, settled } = recordingExecutionContext()
    const events: string[] = []
    const app = new Hono<BackgroundTasksEnv>()
    app.use(backgroundTasks())
    app.get('/', (c) => {
      const body = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('hi'))
          c.var.tasks.add(() => events.push('late task'))
          controller.close()
        },
      })
      return c.body(body)
    })
    const res = await app.request('/', {}, {}, ctx)
    expect(await res.text()).toBe('hi')
    expect(calls).toHaveLength(1)
    await settled()
    expect(events).toEqual(['late task'])
  })

  it('keeps running the tasks when waitUntil itself throws, and says so', async () => {
    const events: string[] = []
    const errors: unknown[][] = []
    const original = console.error
    console.error = (...args: unknown[]) => errors.push(args)
    try {
      const app = new Hono<BackgroundTasksEnv>()
      app.use(
        backgroundTasks({
          waitUntil: () => {
            throw new Error('no context')
          },
        }),
      )
      const done = deferred()
      app.get('/', (c) => {
        c.var.tasks.add(() => {
          events.push('ran')
          done.resolve()
        })
        return c.text('ok')
      })
      await (await app.request('/')).text()
      await done.promise
      expect(events).toEqual(['ran'])
      expect(String(errors[0]?.[0])).toContain('[background-tasks] waitUntil from option threw; the tasks run without it')
    } finally {
      console.error = original
    }
  })
})
