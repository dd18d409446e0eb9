import type { Context } from 'hono'
import { Attempt, runAttempt } from '../attempt.ts'
import type { Entry } from '../entry.ts'
import { TaskSendError } from '../errors.ts'
import { observeSend } from '../instrumentation.ts'
import type { ResolvedOptions } from '../options.ts'
import { callHook, endOf, infoOf } from '../reports.ts'
import type { TaskMessage, TaskSendResult, TaskTransport } from '../types.ts'
import { describeValue } from '../validate.ts'

/** Why message `i` of a send was refused, or `undefined` if it was accepted. */
const refusalOf = (results: unknown, i: number, count: number): unknown => {
  if (results === undefined) return undefined
  if (!Array.isArray(results) || results.length !== count) {
    return new TypeError(
      `the transport's send() resolved with ${Array.isArray(results) ? `${results.length} results` : describeValue(results)} for ${count} messages; expected nothing or one result per message`,
    )
  }
  const result = results[i] as TaskSendResult | undefined
  if (result?.status === 'fulfilled') return undefined
  if (result?.status === 'rejected') return result.reason
  return new TypeError(
    `the transport's send() gave result ${i} as ${describeValue(result)}; expected { status: 'fulfilled' } or { status: 'rejected', reason }`,
  )
}

/**
 * Hands consecutive durable tasks to their transport in one call, and reports each. Never rejects.
 * `defineTask()` attaches it to its tasks as `durable.send`: the core reaches it only through them.
 */
export const sendEntries = async (
  batch: readonly Entry[],
  transport: TaskTransport,
  c: Context,
  options: ResolvedOptions,
): Promise<void> => {
  const infos = batch.map((entry) => {
    entry.markSending()
    return infoOf(entry, 1)
  })
  if (options.onTaskStart) for (const info of infos) await callHook(options.onTaskStart, 'onTaskStart', info, c)
  const started = performance.now()
  const enqueuedAt = Date.now()
  const messages: TaskMessage[] = batch.map((entry) => ({ task: entry.name, args: entry.args, id: entry.id, enqueuedAt }))
  const taskOptions = batch.map((entry) => entry.options)
  const name = infos.map((info) => info.name).join('", "')
  let results: unknown
  // The send gets the middleware's timeout, so that a hung queue client cannot hold the request's work forever.
  const send = (sent: readonly TaskMessage[]) => {
    const fn = async () => {
      results = await transport.send(sent, c, taskOptions)
    }
    return runAttempt(new Attempt({ name, id: batch[0]!.id, fn, args: [] }, 1, c.env), options.timeout)
  }
  // The instrumentation may send copies of the messages that carry the trace context of the send.
  const result = await observeSend(options.instrumentation, batch, messages, transport, send)
  const duration = performance.now() - started
  for (const [i, info] of infos.entries()) {
    const refused = result.outcome === 'success' ? refusalOf(results, i, batch.length) : result.error
    const error = result.outcome === 'success' && refused === undefined ? undefined : new TaskSendError(info.name, refused)
    if (options.onTaskEnd) {
      const end = endOf(batch[i] as Entry, 1, error ? 'error' : 'sent', duration, error, false)
      await callHook(options.onTaskEnd, 'onTaskEnd', end, c)
    }
    if (error) await callHook(options.onError, 'onError', error, info, c)
  }
  for (const entry of batch) entry.markSent()
}
