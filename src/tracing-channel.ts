import type { TaskChannelMessage } from './types.ts'

/** The part of a `node:diagnostics_channel` Channel used here, typed here to keep `node:` out. */
interface Channel {
  readonly hasSubscribers: boolean
  publish(message: unknown): void
  runStores<T>(message: unknown, fn: () => T): T
}

/** The part of a `node:diagnostics_channel` TracingChannel used here. */
interface TracingChannel {
  readonly start: Channel
  readonly end: Channel
  readonly asyncStart: Channel
  readonly asyncEnd: Channel
  readonly error: Channel
  /** Node 20.13+ and Deno; Bun has no such getter. */
  readonly hasSubscribers?: boolean
}

/** The name of the tracing channel every task attempt is published on. */
export const TASK_CHANNEL = 'hono-background-tasks.task'

/**
 * Found at run time, as h3js/srvx does, so that the core imports nothing from `node:`: `undefined`
 * where there is no `diagnostics_channel` (workerd without `nodejs_compat`, edge runtimes).
 */
const findChannel = (): TracingChannel | undefined => {
  try {
    const process = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
    const dc = process?.getBuiltinModule?.('node:diagnostics_channel') as { tracingChannel?: (name: string) => TracingChannel } | undefined
    return dc?.tracingChannel?.(TASK_CHANNEL)
  } catch {
    return undefined
  }
}

const channel = findChannel()

/** The tracing channel, only while someone listens: otherwise publishing costs nothing but this check. */
export const activeChannel: () => TracingChannel | undefined = !channel
  ? () => undefined
  : typeof channel.hasSubscribers === 'boolean'
    ? () => (channel.hasSubscribers ? channel : undefined)
    : () =>
        channel.start.hasSubscribers ||
        channel.end.hasSubscribers ||
        channel.asyncStart.hasSubscribers ||
        channel.asyncEnd.hasSubscribers ||
        channel.error.hasSubscribers
          ? channel
          : undefined

/**
 * Publishes one attempt the way Node's `traceSync` and `tracePromise` do: `start` around the call
 * (stores bound to it apply to the task), `end` once the call returns; for a task that finished
 * at once `error` comes before `end`, for one that returned a promise `error`, `asyncStart` and
 * `asyncEnd` follow when it settles. A throwing subscriber is Node's to report, not the task's.
 */
export const publishAttempt = <R extends { readonly outcome: 'success' | 'error' | 'timeout'; readonly error?: unknown }>(
  tracing: TracingChannel,
  message: TaskChannelMessage,
  run: () => R | Promise<R>,
): R | Promise<R> => {
  let result: R | Promise<R> | undefined
  try {
    tracing.start.runStores(message, () => {
      result = run()
    })
  } catch {
    // A store transform of a subscriber threw before the task ran: the task runs all the same.
  }
  result ??= run()
  if (!(result instanceof Promise)) {
    message.outcome = result.outcome
    if (result.outcome !== 'success') {
      message.error = result.error
      tracing.error.publish(message)
    }
    tracing.end.publish(message)
    return result
  }
  tracing.end.publish(message)
  return result.then((settled) => {
    message.outcome = settled.outcome
    if (settled.outcome !== 'success') {
      message.error = settled.error
      tracing.error.publish(message)
    }
    tracing.asyncStart.publish(message)
    tracing.asyncEnd.publish(message)
    return settled
  })
}
