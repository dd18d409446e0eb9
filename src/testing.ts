import { workOf } from './response-tags.ts'

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
  const recorded = workOf(res)
  if (!recorded) return
  if (recorded.watched && !res.bodyUsed) {
    throw new TypeError(
      'settled: the body of this response has not been read, and its tasks start after the last chunk; read it first (`await res.text()`) or cancel it (`await res.body?.cancel()`)',
    )
  }
  await recorded.work.done()
}
