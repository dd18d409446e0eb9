import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { type BackgroundTasksEnv, backgroundTasks, DrainTimeoutError, drainTasks, pendingTasks } from '../src/index.ts'
import { deferred } from './_support/helpers.ts'

describe('draining the in-process runner [design: Visibility]', () => {
  it('waits for every pending task, including requests still in flight, and names what finished', async () => {
    const gate = deferred()
    const handler = deferred()
    const app = new Hono<BackgroundTasksEnv>()
    app.use(backgroundTasks())
    app.get('/a', (c) => {
      c.var.tasks.add(async function sendEmail() {
        await gate.promise
      })
      return c.text('a')
    })
    app.get('/b', async (c) => {
      await handler.promise
      c.var.tasks.add(function writeAudit() {})
      return c.text('b')
    })
    const a = await app.request('/a')
    const inFlight = app.request('/b')
    const drained = drainTasks({ timeout: false })
    await a.text()
    handler.resolve()
    await (await inFlight).text()
    gate.resolve()
    expect(await drained).toEqual({ finished: ['sendEmail', 'writeAudit'], unfinished: [] })
    expect(pendingTasks()).toEqual([])
  })

  it('gives up at the deadline, names what did not finish and aborts its signal', async () => {
    const aborted = deferred<unknown>()
    const app = new Hono<BackgroundTasksEnv>()
    app.use(backgroundTasks({ timeout: false, onError: () => {} }))
    app.get('/', (c) => {
      c.var.tasks.add(function quick() {})
      c.var.tasks.add(function stuck(this: { signal: AbortSignal }) {
        // Like fetch(url, { signal }): settles only when aborted.
        return new Promise((_, reject) => {
          this.signal.addEventListener('abort', () => {
            aborted.resolve(this.signal.reason)
            reject(this.signal.reason)
          })
        })
      })
      c.var.tasks.add(function neverStarted() {})
      return c.text('ok')
    })
    await (await app.request('/')).text()
    const result = await drainTasks({ timeout: 30 })
    expect(result).toEqual({ finished: ['quick'], unfinished: ['stuck', 'neverStarted'] })
    const reason = await aborted.promise
    expect(reason).toBeInstanceOf(DrainTimeoutError)
    expect((reason as Error).message).toBe('task "stuck" was still running when drainTasks() reached its deadline')
    // Nothing else was cancelled: once "stuck" gave up, the queue went on.
    expect(await drainTasks({ timeout: false })).toEqual({ finished: ['stuck', 'neverStarted'], unfinished: [] })
  })

  it('names only the tasks that finished during the drain', async () => {
    const gate = deferred()
    const firstDone = deferred()
    const app = new Hono<BackgroundTasksEnv>()
    app.use(backgroundTasks())
    app.get('/', (c) => {
      c.var.tasks.add(function doneBefore() {
        firstDone.resolve()
      })
      c.var.tasks.add(async function slow() {
        await gate.promise
      })
      return c.text('ok')
    })
    await (await app.request('/')).text()
    await firstDone.promise
    const drained = drainTasks({ timeout: false })
    gate.resolve()
    expect(await drained).toEqual({ finished: ['slow'], unfinished: [] })
  })

  it('resolves at once when nothing is pending', async () => {
    expect(await drainTasks({ timeout: 1 })).toEqual({ finished: [], unfinished: [] })
  })
})
