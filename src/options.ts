import type { Context } from 'hono'
import type { BackgroundTasksOptions, TaskEndInfo, TaskInfo, TaskTransport } from './types.ts'
import { checkCount, checkFunction, checkOptionsObject, checkRetryDelay, checkTimeout, checkTransport, describeValue } from './validate.ts'

const API = 'backgroundTasks'
const KNOWN = [
  'concurrency',
  'timeout',
  'retries',
  'retryDelay',
  'maxTasks',
  'onError',
  'onTaskStart',
  'onTaskEnd',
  'log',
  'transport',
  'waitUntil',
] as const

/** The middleware's options with every default filled in. */
export interface ResolvedOptions {
  readonly concurrency: number
  readonly timeout: number | false
  readonly retries: number
  readonly retryDelay: number | ((attempt: number, error: unknown) => number)
  readonly maxTasks: number
  readonly onError: (error: unknown, task: TaskInfo, c: Context) => void | Promise<void>
  readonly onTaskStart?: (task: TaskInfo, c: Context) => void | Promise<void>
  readonly onTaskEnd?: (task: TaskEndInfo, c: Context) => void | Promise<void>
  readonly transport?: TaskTransport
  readonly waitUntil?: (promise: Promise<void>, c: Context) => void
}

/** 100 ms before the first retry, doubling, at most 10 s. */
export const defaultRetryDelay = (attempt: number): number => Math.min(100 * 2 ** (attempt - 2), 10_000)

/** `POST /register`: how logs and errors name a request. */
export const describeRequest = (c: Context): string => `${c.req.method} ${c.req.path}`

const logError = (error: unknown, task: TaskInfo, c: Context): void => {
  const attempts = task.attempt > 1 ? ` after ${task.attempt} attempts` : ''
  console.error(`[background-tasks] task "${task.name}" failed${attempts} (${describeRequest(c)}):`, error)
}

const formatEnd = (task: TaskEndInfo, c: Context): string => {
  const took =
    task.outcome === 'skipped'
      ? 'not run: the handler threw'
      : `${task.outcome === 'sent' ? 'sent to the queue' : task.outcome} in ${Math.round(task.duration)} ms`
  const attempt = task.attempt > 1 ? ` (attempt ${task.attempt})` : ''
  const retry = task.willRetry ? ', will retry' : ''
  return `[background-tasks] ${task.name}${attempt}: ${took}${retry} (${describeRequest(c)})`
}

/** Validates `options` without touching them and returns a filled-in copy. */
export const resolveOptions = (options: BackgroundTasksOptions = {}): ResolvedOptions => {
  checkOptionsObject(API, options, KNOWN)
  const { concurrency = 1, timeout = 25_000, retries = 0, retryDelay = defaultRetryDelay, maxTasks = 100 } = options
  checkCount(API, 'concurrency', concurrency, 1)
  checkTimeout(API, 'timeout', timeout)
  checkCount(API, 'retries', retries, 0, 100)
  checkRetryDelay(API, retryDelay)
  checkCount(API, 'maxTasks', maxTasks, 1)
  for (const key of ['onError', 'onTaskStart', 'onTaskEnd', 'waitUntil'] as const) checkFunction(API, key, options[key])
  checkTransport(API, 'transport', options.transport)
  const { log = false } = options
  if (typeof log !== 'boolean' && typeof log !== 'function') {
    throw new TypeError(`${API}: expected \`log\` to be a boolean or a function, got ${describeValue(log)}`)
  }

  let onTaskEnd = options.onTaskEnd
  if (log) {
    const print = log === true ? (line: string) => console.log(line) : log
    const userHook = onTaskEnd
    onTaskEnd = (task, c) => {
      print(formatEnd(task, c))
      return userHook?.(task, c)
    }
  }
  return {
    concurrency,
    timeout,
    retries,
    retryDelay,
    maxTasks,
    onError: options.onError ?? logError,
    onTaskStart: options.onTaskStart,
    onTaskEnd,
    transport: options.transport,
    waitUntil: options.waitUntil,
  }
}
