// Tags on the responses the middleware returns, for `settled()` (hono-background-tasks/testing).
// A symbol-keyed property rather than a WeakMap: a WeakMap entry per response costs more than a
// no-op task on Node 20 (ephemeron bookkeeping in every GC).
const work = Symbol.for('hono-background-tasks.work')
const watched = Symbol.for('hono-background-tasks.watched')

/** A request's work, as `settled()` waits for it. */
export interface Work {
  /** Resolves once every task has settled; never rejects. */
  done(): Promise<void>
}

type Recorded = Response & { [work]?: Work; [watched]?: true }

/** Remembers the work a response's request started, for `settled()`; returns the response. */
export const recordWork = (response: Response, requestWork: Work): Response => {
  ;(response as Recorded)[work] = requestWork
  return response
}

/** Marks a response whose streamed body the work waits for. */
export const markWatched = (response: Response): Response => {
  ;(response as Recorded)[watched] = true
  return response
}

/** The work recorded on `res`, and whether its streamed body is watched; `undefined` for a response without tasks. */
export const workOf = (res: Response): { work: Work; watched: boolean } | undefined => {
  const recorded = (res as Recorded)[work]
  return recorded ? { work: recorded, watched: (res as Recorded)[watched] === true } : undefined
}
