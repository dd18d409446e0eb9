import type { Context } from 'hono'
import { defaultRetryDelay, type RetryDelay } from './retry.ts'
import type { BackgroundTasksOptions, TaskEndInfo, TaskInfo, TaskInstrumentation, TaskTransport } from './types.ts'
import {
  checkCount,
  checkFunction,
  checkInstrumentation,
  checkOptionsObject,
  checkRetryDelay,
  checkTimeout,
  checkTransport,
  describeValue,
} from './validate.ts'

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
  'describeRequest',
  'instrumentation',
] as const

/** The middleware's options with every default filled in. */
export interface ResolvedOptions {
  readonly concurrency: number
  readonly timeout: number | false
  readonly retries: number
  readonly retryDelay: RetryDelay
  readonly maxTasks: number
  readonly onError: (error: unknown, task: TaskInfo, c: Context) => void | Promise<void>
  readonly onTaskStart?: (task: TaskInfo, c: Context) => void | Promise<void>
  readonly onTaskEnd?: (task: TaskEndInfo, c: Context) => void | Promise<void>
  readonly transport?: TaskTransport
  readonly waitUntil?: (promise: Promise<void>, c: Context) => void
  /** Names a request in logs, errors and `pendingTasks()`; never throws. */
  readonly describeRequest: (c: Context) => string
  readonly instrumentation?: TaskInstrumentation
}

/**
 * `POST /invite/:token`: how logs and errors name a request by default. The route pattern, not the
 * path, which may carry secrets; `c.req.routePath` rather than `hono/route`, which Hono 4.0 lacks.
 */
export const describeRequest = (c: Context): string => {
  let route: string
  try {
    // Past the handler it names the handler's route; in a handler, its own.
    route = c.req.routePath
  } catch {
    route = '(no route)'
  }
  return `${c.req.method} ${route}`
}

/** A user's `describeRequest`, made safe to call from a log line or an error message. */
const safeDescribe =
  (describe: (c: Context) => string) =>
  (c: Context): string => {
    try {
      const described = describe(c)
      if (typeof described === 'string') return described
    } catch (error) {
      console.error('[background-tasks] the describeRequest function threw:', error)
    }
    return describeRequest(c)
  }

const logErrorWith =
  (describe: (c: Context) => string) =>
  (error: unknown, task: TaskInfo, c: Context): void => {
    const attempts = task.attempt > 1 ? ` after ${task.attempt} attempts` : ''
    console.error(`[background-tasks] task "${task.name}" failed${attempts} (${describe(c)}):`, error)
  }

const formatEnd = (task: TaskEndInfo, request: string): string => {
  const took =
    task.outcome === 'skipped'
      ? 'not run: the handler threw'
      : `${task.outcome === 'sent' ? 'sent to the queue' : task.outcome} in ${Math.round(task.duration)} ms`
  const attempt = task.attempt > 1 ? ` (attempt ${task.attempt})` : ''
  const retry = task.willRetry ? ', will retry' : ''
  return `[background-tasks] ${task.name}${attempt}: ${took}${retry} (${request})`
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
  for (const key of ['onError', 'onTaskStart', 'onTaskEnd', 'waitUntil', 'describeRequest'] as const) checkFunction(API, key, options[key])
  checkTransport(API, 'transport', options.transport)
  checkInstrumentation(API, 'instrumentation', options.instrumentation)
  const describe = options.describeRequest ? safeDescribe(options.describeRequest) : describeRequest
  const { log = false } = options
  if (typeof log !== 'boolean' && typeof log !== 'function') {
    throw new TypeError(`${API}: expected \`log\` to be a boolean or a function, got ${describeValue(log)}`)
  }

  let onTaskEnd = options.onTaskEnd
  if (log) {
    const print = log === true ? (line: string) => console.log(line) : log
    const userHook = onTaskEnd
    onTaskEnd = (task, c) => {
      print(formatEnd(task, describe(c)))
      return userHook?.(task, c)
    }
  }
  return {
    concurrency,
    timeout,
    retries,
    retryDelay,
    maxTasks,
    onError: options.onError ?? logErrorWith(describe),
    onTaskStart: options.onTaskStart,
    onTaskEnd,
    transport: options.transport,
    waitUntil: options.waitUntil,
    describeRequest: describe,
    instrumentation: options.instrumentation,
  }
}
