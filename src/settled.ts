interface Work {
  readonly promise: Promise<void>
  readonly bodyWrapped: boolean
}

const workOf = new WeakMap<Response, Work>()

/** Remembers the work a response's request started, for `settled()`. */
export const recordWork = (response: Response, promise: Promise<void>, bodyWrapped: boolean): void => {
  workOf.set(response, { promise, bodyWrapped })
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
  const work = workOf.get(res)
  if (!work) return
  if (work.bodyWrapped && !res.bodyUsed) {
    throw new TypeError(
      'settled: the body of this response has not been read, and its tasks start after the last chunk; read it first (`await res.text()`) or cancel it (`await res.body?.cancel()`)',
    )
  }
  await work.promise
}
