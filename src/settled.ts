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

/**
 * Resolves once all the background work that the request behind `res` started has settled.
 * For tests, on any runtime. For a streamed body, read it first: its tasks start after the last
 * chunk, and this throws rather than wait for a body nobody reads. A response without tasks
 * resolves at once.
 * @example
 * const res = await app.request('/register', { method: 'POST' })
 * expect(await res.json()).toEqual({ ok: true })
 * await settled(res)
 * expect(sentEmails).toHaveLength(1)
 */
export const settled = async (res: Response): Promise<void> => {
  const recorded = (res as Recorded)[work]
  if (!recorded) return
  if ((res as Recorded)[watched] && !res.bodyUsed) {
    throw new TypeError(
      'settled: the body of this response has not been read, and its tasks start after the last chunk; read it first (`await res.text()`) or cancel it (`await res.body?.cancel()`)',
    )
  }
  await recorded.done()
}
