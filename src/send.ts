import type { Context } from 'hono'
import { Attempt, runAttempt } from './attempt.ts'
import type { Entry } from './entry.ts'
import { TaskSendError } from './errors.ts'
import { callHook, endOf, infoOf } from './hooks.ts'
import { observeSend } from './instrumentation.ts'
import type { ResolvedOptions } from './options.ts'
import type { TaskMessage, TaskTransport } from './types.ts'

/** Hands consecutive durable tasks to their transport in one call, and reports each. Never rejects. */
export const sendEntries = async (batch: Entry[], transport: TaskTransport, c: Context, options: ResolvedOptions): Promise<void> => {
  const infos = batch.map((entry) => {
    entry.send()
    return infoOf(entry, 1)
  })
  if (options.onTaskStart) for (const info of infos) await callHook(options.onTaskStart, 'onTaskStart', info, c)
  const started = performance.now()
  const enqueuedAt = Date.now()
  const messages: TaskMessage[] = batch.map((entry) => ({ task: entry.name, args: entry.args, id: entry.id, enqueuedAt }))
  const name = infos.map((info) => info.name).join('", "')
  // The send gets the middleware's timeout, so that a hung queue client cannot hold the request's work forever.
  const send = (sent: readonly TaskMessage[]) =>
    runAttempt(new Attempt({ name, id: batch[0]!.id, fn: () => transport.send(sent, c), args: [] }, 1, c.env), options.timeout)
  // The instrumentation may send copies of the messages that carry the trace context of the send.
  const result = await observeSend(options.instrumentation, batch, messages, transport, send)
  const duration = performance.now() - started
  for (const [i, info] of infos.entries()) {
    const error = result.outcome === 'success' ? undefined : new TaskSendError(info.name, result.error)
    if (options.onTaskEnd) {
      const end = endOf(batch[i] as Entry, 1, error ? 'error' : 'sent', duration, error, false)
      await callHook(options.onTaskEnd, 'onTaskEnd', end, c)
    }
    if (error) await callHook(options.onError, 'onError', error, info, c)
  }
  for (const entry of batch) entry.sent()
}
