import { Hono } from 'hono'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type BackgroundTasksEnv, type BackgroundTasksOptions, backgroundTasks, pendingTasks } from '../src/index.ts'
import { settled } from '../src/testing.ts'
import { deferred } from './_support/helpers.ts'

// Paths carry secrets (`/invite/<token>`): log lines, error messages and pendingTasks() name the
// route pattern instead, or whatever `describeRequest` returns. Arguments are never printed.
const TOKEN = '9f8e7d6c5b4a'
const SECRET_ARG = 'hunter2-password'

const inviteApp = (options: BackgroundTasksOptions, task: (secret: string) => unknown) => {
  const app = new Hono<BackgroundTasksEnv>()
  app.use(backgroundTasks(options))
  app.post('/invite/:token', (c) => {
    c.var.tasks.add(function acceptInvite(secret: string) {
      return task(secret)
    }, SECRET_ARG)
    return c.text('ok')
  })
  return app
}

const printed = (spy: { mock: { calls: unknown[][] } }): string =>
  spy.mock.calls.map((call) => call.map((part) => (part instanceof Error ? part.message : String(part))).join(' ')).join('\n')

afterEach(() => {
  vi.restoreAllMocks()
})

describe('log lines name the route pattern, never the raw path [design: Visibility]', () => {
  it('the default onError line: method and route, no token, no argument', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    const app = inviteApp({}, () => {
      throw new Error('mail server down')
    })
    const res = await app.request(`/invite/${TOKEN}`, { method: 'POST' })
    await settled(res)
    expect(error).toHaveBeenCalledTimes(1)
    expect(error.mock.calls[0]?.[0]).toBe('[background-tasks] task "acceptInvite" failed (POST /invite/:token):')
    expect(printed(error)).not.toContain(TOKEN)
    expect(printed(error)).not.toContain(SECRET_ARG)
  })

  it('`log: true`: one line per attempt with the route', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    const app = inviteApp({ log: true }, () => {})
    await settled(await app.request(`/invite/${TOKEN}`, { method: 'POST' }))
    expect(log.mock.calls.map(([line]) => String(line).replace(/\d+ ms/, 'N ms'))).toEqual([
      '[background-tasks] acceptInvite: success in N ms (POST /invite/:token)',
    ])
    expect(printed(log)).not.toContain(TOKEN)
  })

  it('pendingTasks() and the errors add() throws name the route too', async () => {
    const gate = deferred()
    const app = new Hono<BackgroundTasksEnv>()
    const errors: string[] = []
    app.use(backgroundTasks({ maxTasks: 1 }))
    app.post('/reset/:token', (c) => {
      c.var.tasks.add(() => gate.promise)
      try {
        c.var.tasks.add(() => {})
      } catch (error) {
        errors.push((error as Error).message)
      }
      return c.text('ok')
    })
    // A route mounted on a sub-app names its full pattern.
    const api = new Hono().route('/api', app)
    const res = await api.request(`/api/reset/${TOKEN}`, { method: 'POST' })
    await res.text()
    expect(pendingTasks().map(({ name, request }) => ({ name, request }))).toEqual([
      { name: 'anonymous', request: 'POST /api/reset/:token' },
    ])
    expect(errors).toEqual([
      'tasks.add: POST /api/reset/:token already has 1 tasks, the `maxTasks` limit; task "anonymous" was not added (raise `maxTasks` in backgroundTasks() if this is expected)',
    ])
    gate.resolve()
    await settled(res)
  })
})

describe('describeRequest: the user chooses what names a request', () => {
  it('is used by the default onError line, `log` and pendingTasks()', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    const gate = deferred()
    const seen: string[] = []
    const app = inviteApp(
      { log: true, describeRequest: (c) => `${c.req.method} invite (request ${c.req.header('x-request-id')})` },
      async () => {
        seen.push(...pendingTasks().flatMap((task) => (task.name === 'acceptInvite' ? [task.request] : [])))
        await gate.promise
        throw new Error('declined')
      },
    )
    const res = await app.request(`/invite/${TOKEN}`, { method: 'POST', headers: { 'x-request-id': 'req-42' } })
    await res.text()
    gate.resolve()
    await settled(res)
    expect(seen).toEqual(['POST invite (request req-42)'])
    expect(error.mock.calls[0]?.[0]).toBe('[background-tasks] task "acceptInvite" failed (POST invite (request req-42)):')
    expect(log.mock.calls.map(([line]) => String(line).replace(/\d+ ms/, 'N ms'))).toEqual([
      '[background-tasks] acceptInvite: error in N ms (POST invite (request req-42))',
    ])
    expect(`${printed(error)}\n${printed(log)}`).not.toContain(SECRET_ARG)
  })

  it('one that throws or returns a non-string falls back to the route pattern, and the throw is reported', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    const log = vi.spyOn(console, 'log').mockImplementation(() => {})
    const throwing = inviteApp(
      {
        log: true,
        describeRequest: () => {
          throw new Error('no request id')
        },
      },
      () => {},
    )
    await settled(await throwing.request(`/invite/${TOKEN}`, { method: 'POST' }))
    expect(error.mock.calls.map(([first]) => first)).toEqual(['[background-tasks] the describeRequest function threw:'])
    expect(String(log.mock.calls[0]?.[0])).toMatch(/\(POST \/invite\/:token\)$/)

    const wrongType = inviteApp({ log: true, describeRequest: (() => 42) as unknown as () => string }, () => {})
    await settled(await wrongType.request(`/invite/${TOKEN}`, { method: 'POST' }))
    expect(String(log.mock.calls[1]?.[0])).toMatch(/\(POST \/invite\/:token\)$/)
  })

  it('must be a function', () => {
    expect(() => backgroundTasks({ describeRequest: 'path' as unknown as () => string })).toThrow(
      new TypeError('backgroundTasks: expected `describeRequest` to be a function, got `"path"` (string)'),
    )
  })
})
