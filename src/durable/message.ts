import type { TaskMessage, TraceContext } from '../types.ts'

/**
 * Reads a queue message's body as a task message: `{ task, args, id, enqueuedAt }`, and `trace`
 * when it carries a trace context (one that is not usable is left out, and the task still runs).
 * Returns what is wrong with it as a string when it is not one, so that nothing runs by guesswork.
 * @example
 * const parsed = parseTaskMessage(message.body)
 * if (typeof parsed === 'string') console.error(`not a task message: ${parsed}`)
 * else console.log(`task ${parsed.task}, id ${parsed.id}`)
 */
export const parseTaskMessage = (body: unknown): TaskMessage | string => {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return `expected an object like {"task", "args", "id", "enqueuedAt"}, got ${body === null ? 'null' : Array.isArray(body) ? 'an array' : `a ${typeof body}`}`
  }
  const { task, args, id, enqueuedAt } = body as Record<string, unknown>
  if (typeof task !== 'string' || task === '') return '`task` is not a non-empty string'
  if (!Array.isArray(args)) return '`args` is not an array'
  if (typeof id !== 'string' || id === '') return '`id` is not a non-empty string'
  if (typeof enqueuedAt !== 'number' || !Number.isFinite(enqueuedAt)) return '`enqueuedAt` is not a number'
  const trace = traceOf((body as Record<string, unknown>).trace)
  return trace ? { task, args, id, enqueuedAt, trace } : { task, args, id, enqueuedAt }
}

/** The message's trace context, if it has a usable one: a message without it, or with a broken one, still runs. */
const traceOf = (value: unknown): TraceContext | undefined => {
  if (typeof value !== 'object' || value === null) return undefined
  const { traceparent, tracestate } = value as Record<string, unknown>
  if (typeof traceparent !== 'string' || traceparent === '') return undefined
  return typeof tracestate === 'string' && tracestate !== '' ? { traceparent, tracestate } : { traceparent }
}
