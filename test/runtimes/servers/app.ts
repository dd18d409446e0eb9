/**
 * The scenario app as the runtime tests serve it, plus two probes: `GET /_/lifetime` (where the
 * library finds this request's lifetime and what it waits for before starting tasks) and
 * `GET /_/pending` (what the in-process runner holds).
 */

import { pendingTasks } from '../../../src/registry.ts'
import { detectRuntime, findLifetime } from '../../../src/runtime/detect.ts'
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
    const runtime = detectRuntime(c.env)
    const found = findLifetime(c, undefined, runtime)
    const lifetime = found.kind === 'waitUntil' ? (found.source as LifetimeSource) : found.kind
    // What the runtime's adapter in src/runtime/ waits for; AWS Lambda runs the tasks before the reply.
    const start: TaskStart =
      lifetime === 'before-response'
        ? 'before-reply'
        : runtime.name === 'node'
          ? 'response-finish'
          : runtime.name === 'deno'
            ? 'info-completed'
            : 'last-chunk'
    return c.json({ lifetime, start } satisfies LifetimeProbe)
  })
  app.get('/_/pending', (c) => c.json(pendingTasks() satisfies PendingProbe[]))
  return app
}
