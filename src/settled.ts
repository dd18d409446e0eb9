interface Work {
  readonly promise: Promise<void>
  readonly bodyWrapped: boolean
}

// A symbol-keyed property rather than a WeakMap: a WeakMap entry per response costs more than a
// no-op task on Node 20 (ephemeron bookkeeping in every GC).
const work = Symbol.for('hono-background-tasks.work')

type WithWork = Response & { [work]?: Work }

/** Remembers the work a response's request started, for `settled()`. */
export const recordWork = (response: Response, promise: Promise<void>, bodyWrapped: boolean): void => {
  ;(response as WithWork)[work] = { promise, bodyWrapped }
}

/**
 * Resolves once all the background work that the request behind `res` started has settled.
 * For tests, on any runtime: read the body first, since tasks start after its last chunk.
 * A response without tasks resolves at once.
 * @example
 * const res = await app.request('/register', { method: 'POST' })
 * expect(await res.json()).toEqual({ ok: true })
 * await settled(res)
 * expect(sentEmails).toHaveLength(1)
 */
export const settled = async (res: Response): Promise<void> => {
  const recorded = (res as WithWork)[work]
  if (!recorded) return
  if (recorded.bodyWrapped && !res.bodyUsed) {
    throw new TypeError(
      'settled: the body of this response has not been read, and its tasks start after the last chunk; read it first (`await res.text()`) or cancel it (`await res.body?.cancel()`)',
    )
  }
  await recorded.promise
}
