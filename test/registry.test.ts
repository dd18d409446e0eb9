import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { type BackgroundTasksEnv, backgroundTasks, drainTasks, pendingTasks } from '../src/index.ts'
import { Registry } from '../src/registry.ts'
import { settled } from '../src/testing.ts'
import { deferred } from './_support/helpers.ts'

describe('the in-process registry [design: Visibility]', () => {
  it('lists requests oldest first, and forgets each once its work is done, in whatever order they finish', async () => {
    const gates = { a: deferred(), b: deferred(), c: deferred(), d: deferred() }
    const app = new Hono<BackgroundTasksEnv>()
    // The path, not the default route pattern, so that the requests can be told apart.
    app.use(backgroundTasks({ describeRequest: (c) => `${c.req.method} ${c.req.path}` }))
    app.get('/:id', (c) => {
      const id = c.req.param('id') as keyof typeof gates
      c.var.tasks.add(async function wait() {
        await gates[id].promise
      })
      return c.text(id)
    })
    const responses = { a: await app.request('/a'), b: await app.request('/b'), c: await app.request('/c') }
    for (const res of Object.values(responses)) await res.text()
    const requests = () => pendingTasks().map((task) => task.request)
    expect(requests()).toEqual(['GET /a', 'GET /b', 'GET /c'])

    // The middle one first, then the oldest, then the newest: each leaves the others listed in order.
    gates.b.resolve()
    await settled(responses.b)
    expect(requests()).toEqual(['GET /a', 'GET /c'])
    gates.a.resolve()
    await settled(responses.a)
    expect(requests()).toEqual(['GET /c'])
    const late = await app.request('/d')
    await late.text()
    expect(requests()).toEqual(['GET /c', 'GET /d'])
    gates.c.resolve()
    await settled(responses.c)
    expect(requests()).toEqual(['GET /d'])
    gates.d.resolve()
    await settled(late)
    expect(requests()).toEqual([])
    expect(await drainTasks({ timeout: 1_000 })).toEqual({ finished: [], unfinished: [] })
  })
})

describe('registry tickets [design: Visibility]', () => {
  it('untracking a ticket twice leaves the other requests listed', () => {
    const registry = new Registry()
    const work = (request: string) => ({ request, tasks: [{ name: request, state: 'waiting' as const, abort() {} }] })
    const a = registry.track(work('a'))
    const b = registry.track(work('b'))
    const c = registry.track(work('c'))
    registry.untrack(b)
    registry.untrack(b)
    expect(registry.pending().map((task) => task.request)).toEqual(['a', 'c'])
    registry.untrack(a)
    registry.untrack(a)
    expect(registry.pending().map((task) => task.request)).toEqual(['c'])
    registry.untrack(c)
    registry.untrack(c)
    expect(registry.pending()).toEqual([])
    // The process's registry is another one: nothing of this reached it.
    expect(pendingTasks()).toEqual([])
  })

  it('a fresh registry drains on its own: work tracked in it is waited for, and named at the deadline', async () => {
    const registry = new Registry()
    const aborted: unknown[] = []
    const task = { name: 'slow', state: 'running' as 'running' | 'done', abort: (reason: unknown) => aborted.push(reason) }
    const ticket = registry.track({ request: 'GET /slow', tasks: [task] })
    const result = await registry.drain(1)
    expect(result).toEqual({ finished: [], unfinished: ['slow'] })
    expect(aborted).toHaveLength(1)
    registry.untrack(ticket)
    task.state = 'done'
    expect(await registry.drain(1_000)).toEqual({ finished: [], unfinished: [] })
  })
})
