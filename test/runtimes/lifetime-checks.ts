/**
 * Proves on a running server where its lifetime comes from and when its tasks start, as the
 * matrix says: through the probes of servers/app.ts, and by where a pending task is held.
 */
import { expect, it } from 'vitest'
import type { Target } from '../_support/behaviour-suite.ts'
import type { LifetimeSource, Run, TaskStart } from './matrix.ts'
import type { LifetimeProbe, PendingProbe } from './servers/app.ts'

export interface LifetimeCheckOptions {
  /**
   * For a platform `waitUntil` the test can observe: resolves once everything handed to it so far
   * has settled (edge-runtime's `server.waitUntil()`, the promises a stand-in context received).
   */
  handedOff?: () => Promise<unknown>
}

let counter = 0
const newRun = (): string => `life${Date.now().toString(36)}${(counter++).toString(36)}`

const eventsOf = async (target: Target, run: string): Promise<string[]> =>
  (await target.fetch(`/_/events/${run}`)).json() as Promise<string[]>

const waitFor = async (target: Target, run: string, event: string): Promise<string[]> => {
  for (;;) {
    const events = await eventsOf(target, run)
    if (events.includes(event)) return events
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Pending tasks of `/handoff/:run` requests: requests are named by their route pattern, never their path. */
const pendingHandoffs = async (target: Target): Promise<PendingProbe[]> =>
  ((await (await target.fetch('/_/pending')).json()) as PendingProbe[]).filter((p) => p.request === 'GET /handoff/:run')

const where: Record<LifetimeSource, string> = {
  executionCtx: 'c.executionCtx.waitUntil',
  netlify: 'c.env.context.waitUntil',
  vercel: 'the @vercel/request-context symbol',
  'in-process': 'the in-process runner',
  'before-response': 'nowhere after the reply (tasks run before it)',
}

const when: Record<TaskStart, string> = {
  'response-finish': 'once the ServerResponse closes',
  'info-completed': 'once info.completed settles',
  'last-chunk': 'once the body is handed over, or its last chunk read',
  'before-reply': 'before the reply',
}

/** Registers the checks of `run`'s lifetime and task start against `target()`. */
export const lifetimeChecks = (run: Run, target: () => Target, options: LifetimeCheckOptions = {}): void => {
  it(`finds the lifetime in ${where[run.lifetime]} and starts tasks ${when[run.start]} [design: Where the lifetime comes from]`, async () => {
    const probe = (await (await target().fetch('/_/lifetime')).json()) as LifetimeProbe
    expect(probe).toEqual({ lifetime: run.lifetime, start: run.start })
  })

  if (run.lifetime === 'before-response') return

  it(`holds a pending task in ${where[run.lifetime]} [design: One hand-off per request, Visibility]`, async () => {
    const id = newRun()
    const res = await target().fetch(`/handoff/${id}`)
    expect(await res.json()).toEqual({ ok: true, size: 1 })
    await waitFor(target(), id, 'task:start')
    const handedOff = options.handedOff?.()
    if (run.lifetime === 'in-process') {
      expect(await pendingHandoffs(target())).toEqual([{ name: 'step', state: 'running', request: 'GET /handoff/:run' }])
    } else {
      expect(await pendingHandoffs(target())).toEqual([])
    }
    await (await target().fetch(`/_/open/${id}/g`, { method: 'POST' })).body?.cancel()
    if (handedOff) {
      // The platform's waitUntil waited for the task: it has ended by the time that promise settles.
      await handedOff
      expect(await eventsOf(target(), id)).toEqual(['handler', 'task:start', 'task:end'])
    } else {
      await waitFor(target(), id, 'task:end')
    }
    expect(await pendingHandoffs(target())).toEqual([])
  })
}
