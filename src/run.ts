import type { Context } from 'hono'
import { DrainTimeoutError, TaskSendError, TaskTimeoutError } from './errors.ts'
import type { Entry, TaskList } from './tasks.ts'
import type { TaskContext, TaskEndInfo, TaskInfo, TaskOutcome, TaskTransport } from './types.ts'

/** How one attempt ended. */
export interface Attempt {
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
export const attempt = (
  entry: Pick<Entry, 'fn' | 'args' | 'name'>,
  context: TaskContext,
  controller: AbortController,
  timeout: number | false,
): Promise<Attempt> =>
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
        // Past its timeout nothing waits for this attempt: an error other than the abort itself (a late
        // tasks.add() that throws, say) would vanish without a word.
        const reason: unknown = controller.signal.reason
        const aborted =
          error === reason ||
          (error as { cause?: unknown } | null)?.cause === reason ||
          (error instanceof Error && error.name === 'AbortError')
        if (reason instanceof TaskTimeoutError && !aborted) {
          console.error(`[background-tasks] task "${entry.name}" failed after it had timed out:`, error)
        }
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
    const info: TaskInfo = { name: entry.name, id: entry.id, attempt: n, args: entry.args }
    await callHook(options.onTaskStart, 'onTaskStart', info, c)
    const controller = new AbortController()
    entry.controller = controller
    const started = performance.now()
    const context: TaskContext = { name: entry.name, id: entry.id, attempt: n, signal: controller.signal, env: c.env }
    const result = await attempt(entry, context, controller, timeout)
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

/** Hands consecutive durable tasks to their transport in one call, and reports each. Never rejects. */
const sendEntries = async (batch: Entry[], transport: TaskTransport, list: TaskList): Promise<void> => {
  const { c, options } = list
  const infos: TaskInfo[] = batch.map((entry) => {
    entry.state = 'running'
    return { name: entry.name, id: entry.id, attempt: 1, args: entry.args }
  })
  for (const info of infos) await callHook(options.onTaskStart, 'onTaskStart', info, c)
  const started = performance.now()
  const enqueuedAt = Date.now()
  const messages = batch.map((entry) => ({ task: entry.name, args: entry.args, id: entry.id, enqueuedAt }))
  // The send gets the middleware's timeout, so that a hung queue client cannot hold the request's work forever.
  const sending = { name: infos.map((info) => info.name).join('", "'), fn: () => transport.send(messages, c), args: [] }
  const controller = new AbortController()
  const context: TaskContext = { name: sending.name, id: batch[0]!.id, attempt: 1, signal: controller.signal, env: c.env }
  const result = await attempt(sending, context, controller, options.timeout)
  const duration = performance.now() - started
  for (const info of infos) {
    const error = result.outcome === 'success' ? undefined : new TaskSendError(info.name, result.error)
    await callHook(options.onTaskEnd, 'onTaskEnd', { ...info, outcome: error ? 'error' : 'sent', duration, error, willRetry: false }, c)
    if (error) await callHook(options.onError, 'onError', error, info, c)
  }
  for (const entry of batch) entry.state = 'done'
}

/** Reports the tasks a failed handler leaves out (all but `always`) as skipped. Tasks that an `always` task adds later do run. */
const skipTasks = async (list: TaskList, c: Context): Promise<void> => {
  for (let i = list.cursor; i < list.entries.length; i++) {
    const entry = list.entries[i] as Entry
    if (entry.options.always || entry.state !== 'waiting') continue
    entry.state = 'skipped'
    const end: TaskEndInfo = {
      name: entry.name,
      id: entry.id,
      attempt: 0,
      args: entry.args,
      outcome: 'skipped',
      duration: 0,
      willRetry: false,
    }
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
        const { transport } = entry
        let work: Promise<void>
        if (transport) {
          // Consecutive durable tasks for the same transport go in one batch; order is kept.
          const batch = [entry]
          while (list.cursor < list.entries.length) {
            const following = list.entries[list.cursor] as Entry
            if (following.state === 'waiting' && following.transport !== transport) break
            list.cursor++
            if (following.state === 'waiting') batch.push(following)
          }
          work = sendEntries(batch, transport, list)
        } else work = runEntry(entry, list)
        work.then(next, (error: unknown) => {
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
