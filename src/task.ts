import type { Task, TaskFunction, TaskOptions } from './types.ts'
import { checkBoolean, checkCount, checkOptionsObject, checkRetryDelay, checkTimeout, describeValue } from './validate.ts'

const TASK_OPTIONS = ['name', 'timeout', 'retries', 'retryDelay', 'always'] as const

/** Checks the per-task options; shared with `defineTask()`. */
export const checkTaskOptions = (api: string, options: TaskOptions | undefined): void => {
  checkOptionsObject(api, options, TASK_OPTIONS)
  if (!options) return
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) {
    throw new TypeError(`${api}: expected \`name\` to be a non-empty string, got ${describeValue(options.name)}`)
  }
  if (options.timeout !== undefined) checkTimeout(api, 'timeout', options.timeout)
  if (options.retries !== undefined) checkCount(api, 'retries', options.retries, 0, 100)
  if (options.retryDelay !== undefined) checkRetryDelay(api, options.retryDelay)
  if (options.always !== undefined) checkBoolean(api, 'always', options.always)
}

/**
 * Gives one task its own name, timeout, retries or `always`, keeping `add()`'s argument checks.
 * @example
 * const welcome = task(sendWelcomeEmail, { retries: 2, timeout: 5_000 })
 * c.var.tasks.add(welcome, user.email)
 */
// biome-ignore lint/suspicious/noExplicitAny: see TaskFunction.
export const task = <Args extends any[]>(fn: TaskFunction<Args>, options: TaskOptions = {}): Task<Args> => {
  if (typeof fn !== 'function') throw new TypeError(`task: expected a function, got ${describeValue(fn)}`)
  checkTaskOptions('task', options)
  return Object.freeze({ fn, options: Object.freeze({ ...options, name: options.name ?? taskName(fn) }) })
}

/** The name a bare function gets as a task. */
export const taskName = (fn: (...args: never[]) => unknown): string => fn.name || 'anonymous'

/** Whether `value` came from `task()` (or `defineTask()`). */
export const isTask = (value: unknown): value is Task =>
  typeof value === 'object' && value !== null && typeof (value as Task).fn === 'function' && typeof (value as Task).options === 'object'
