import type { Durable } from '../entry.ts'
import { checkTaskOptions } from '../task.ts'
import type { Task, TaskFunction, TaskOptions, TaskTransport } from '../types.ts'
import { checkOptionsObject, checkTransport, describeValue } from '../validate.ts'
import { checkJsonArgs } from './json.ts'
import { sendEntries } from './send.ts'

/** Options of `defineTask()`. */
export interface DefineTaskOptions extends Omit<TaskOptions, 'name'> {
  /** Sends this task here instead of to the middleware's `transport`. @default the middleware's */
  transport?: TaskTransport
}

/** A task with a stable name, which a transport may send to a queue and a consumer runs by name. */
// biome-ignore lint/suspicious/noExplicitAny: see TaskFunction.
export interface DurableTask<Args extends any[] = any[]> extends Task<Args> {
  /** Set by `defineTask()`: how its arguments are checked and how it is sent. Not built by hand. */
  readonly durable: Durable
}

const KNOWN = ['timeout', 'retries', 'retryDelay', 'always', 'transport'] as const

/**
 * Names a task so that it can be durable: with a `transport`, `c.var.tasks.add(task, ...args)`
 * sends `{ task, args, id, enqueuedAt }` to a queue, and `queueConsumer()`, `bullmqWorker()`,
 * `pgBossWorker()` or `denoKvWorker()` runs it by this name. Without a transport it runs in-process
 * like any task. Its arguments must be JSON: `add()` throws otherwise. `retries` and `retryDelay`
 * apply in-process, on BullMQ (the job's attempts and backoff), on pg-boss (in whole seconds) and on
 * Deno KV (at most 5 retries an hour apart); on Cloudflare Queues `max_retries` and the consumer's
 * `retryDelaySeconds` decide. `timeout` applies everywhere.
 * @example
 * export const sendWelcomeEmail = defineTask('sendWelcomeEmail', async function (this: TaskContext<Env>, to: string) {
 *   // this.id is the same on every delivery: an idempotency key for the email API.
 *   await this.env.MAILER.send({ to, template: 'welcome', idempotencyKey: this.id })
 * })
 * // in a handler:
 * c.var.tasks.add(sendWelcomeEmail, 'ada@example.com')
 */
// biome-ignore lint/suspicious/noExplicitAny: see TaskFunction.
export const defineTask = <Args extends any[]>(
  name: string,
  fn: TaskFunction<Args>,
  options: DefineTaskOptions = {},
): DurableTask<Args> => {
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(`defineTask: expected the name to be a non-empty string, got ${describeValue(name)}`)
  }
  if (typeof fn !== 'function') throw new TypeError(`defineTask: expected a function for task "${name}", got ${describeValue(fn)}`)
  checkOptionsObject('defineTask', options, KNOWN)
  const { transport, ...taskOptions } = options
  checkTaskOptions('defineTask', taskOptions)
  checkTransport('defineTask', 'transport', transport)
  const durable: Durable = Object.freeze({
    checkArgs: (args: readonly unknown[]) => checkJsonArgs(name, args),
    transport,
    send: sendEntries,
  })
  return Object.freeze({ fn, options: Object.freeze({ ...taskOptions, name }), durable })
}
