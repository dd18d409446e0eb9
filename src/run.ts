import type { Context } from 'hono'
import { DrainTimeoutError, TaskTimeoutError } from './errors.ts'
import type { Entry, TaskList } from './tasks.ts'
import type { TaskContext, TaskEndInfo, TaskInfo, TaskOutcome } from './types.ts'

interface Attempt {
  outcome: TaskOutcome
  error?: unknown
}

/** Calls a user hook so that neither a throw nor a rejection can escape. */
const callHook = async <A extends unknown[]>(hook: ((...args: A) => unknown) | undefined, label: string, ...args: A): Promise<void> => {
  if (!hook) return
  try {
    await hook(...args)
  } catch (error) {
    console.error(`[background-tasks] the ${label} hook threw:`, error)
  }
}

/** One attempt: resolves with its outcome, never rejects; the timeout aborts the signal and moves on. */
const attempt = (entry: Entry, context: TaskContext, controller: AbortController, timeout: number | false): Promise<Attempt> =>
  new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    if (timeout !== false) {
      timer = setTimeout(() => {
        const error = new TaskTimeoutError(entry.name, timeout)
        controller.abort(error)
        resolve({ outcome: 'timeout', error })
      }, timeout)
    }
    // The async wrapper turns a synchronous throw into a rejection (the p-limit way).
    ;(async () => entry.fn.apply(context, entry.args))().then(
      () => {
        if (timer !== undefined) clearTimeout(timer)
        resolve({ outcome: 'success' })
      },
      (error: unknown) => {
        if (timer !== undefined) clearTimeout(timer)
        resolve({ outcome: 'error', error })
      },
    )
  })

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs one task through all its attempts and hooks. Never rejects. */
const runEntry = async (entry: Entry, list: TaskList): Promise<void> => {
  const { c, options } = list
  const timeout = entry.options.timeout ?? options.timeout
  const retries = entry.options.retries ?? options.retries
  const retryDelay = entry.options.retryDelay ?? options.retryDelay
  entry.state = 'running'
  for (let n = 1; ; n++) {
    const info: TaskInfo = { name: entry.name, attempt: n, args: entry.args }
    await callHook(options.onTaskStart, 'onTaskStart', info, c)
    const controller = new AbortController()
    entry.controller = controller
    const started = performance.now()
    const result = await attempt(entry, { name: entry.name, attempt: n, signal: controller.signal }, controller, timeout)
    const duration = performance.now() - started
    const drained = controller.signal.reason instanceof DrainTimeoutError
    const willRetry = result.outcome !== 'success' && n <= retries && !drained
    const end: TaskEndInfo = { ...info, outcome: result.outcome, duration, error: result.error, willRetry }
    await callHook(options.onTaskEnd, 'onTaskEnd', end, c)
    if (result.outcome === 'success') break
    if (!willRetry) {
      await callHook(options.onError, 'onError', result.error, info, c)
      break
    }
    let delay = 0
    try {
      delay = typeof retryDelay === 'function' ? retryDelay(n + 1, result.error) : retryDelay
    } catch (error) {
      console.error('[background-tasks] the retryDelay function threw:', error)
    }
    await sleep(Number.isFinite(delay) && delay > 0 ? delay : 0)
  }
  entry.controller = undefined
  entry.state = 'done'
}

/** Reports the tasks a failed handler leaves out (all but `always`) as skipped. Tasks that an `always` task adds later do run. */
const skipTasks = async (list: TaskList, c: Context): Promise<void> => {
  for (let i = list.cursor; i < list.entries.length; i++) {
    const entry = list.entries[i] as Entry
    if (entry.options.always || entry.state !== 'waiting') continue
    entry.state = 'skipped'
    const end: TaskEndInfo = { name: entry.name, attempt: 0, args: entry.args, outcome: 'skipped', duration: 0, willRetry: false }
    await callHook(list.options.onTaskEnd, 'onTaskEnd', end, c)
  }
}

/**
 * Runs a request's tasks in the order added, `concurrency` at a time, including tasks added while
 * it runs. Resolves when all have settled; never rejects. The list is `done` afterwards.
 */
export const runTasks = async (list: TaskList): Promise<void> => {
  if (list.handlerFailed) await skipTasks(list, list.c)
  await new Promise<void>((resolve) => {
    let active = 0
    const pump = (): void => {
      while (active < list.options.concurrency && list.cursor < list.entries.length) {
        const entry = list.entries[list.cursor++] as Entry
        if (entry.state === 'skipped') continue
        active++
        const next = (): void => {
          active--
          pump()
        }
        runEntry(entry, list).then(next, (error: unknown) => {
          console.error(`[background-tasks] internal error while running task "${entry.name}":`, error)
          next()
        })
      }
      if (active === 0 && list.cursor >= list.entries.length) {
        list.state = 'done'
        list.onAdd = undefined
        resolve()
      }
    }
    list.state = 'running'
    list.onAdd = pump
    pump()
  })
}
