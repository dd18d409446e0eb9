/**
 * The scenario app as the runtime tests serve it, plus two probes: `GET /_/lifetime` (where the
 * library finds this request's lifetime and what it waits for before starting tasks) and
 * `GET /_/pending` (what the in-process runner holds).
 */
import { denoCompleted, findLifetime, nodeOutgoing } from '../../../src/lifetime.ts'
import { pendingTasks } from '../../../src/registry.ts'
import { createScenarioApp } from '../../fixtures/scenario-app.ts'
import type { LifetimeSource, TaskStart } from '../matrix.ts'

/** What `GET /_/lifetime` answers. */
export interface LifetimeProbe {
  lifetime: LifetimeSource
  start: TaskStart
}

/** One entry of `GET /_/pending`: `pendingTasks()` as JSON. */
export interface PendingProbe {
  name: string
  state: 'waiting' | 'running'
  request: string
}

/** `createScenarioApp()` with the two probes. */
export const createRuntimeApp = () => {
  const app = createScenarioApp()
  app.get('/_/lifetime', (c) => {
    const found = findLifetime(c, undefined)
    const lifetime = found.kind === 'waitUntil' ? (found.source as LifetimeSource) : found.kind
    // The same tests, in the same order, as watchResponse() in src/finished.ts.
    const start: TaskStart =
      lifetime === 'before-response'
        ? 'before-reply'
        : nodeOutgoing(c.env)
          ? 'response-finish'
          : denoCompleted(c.env)
            ? 'info-completed'
            : 'last-chunk'
    return c.json({ lifetime, start } satisfies LifetimeProbe)
  })
  app.get('/_/pending', (c) => c.json(pendingTasks() satisfies PendingProbe[]))
  return app
}
