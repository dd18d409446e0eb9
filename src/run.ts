import type { Context } from 'hono'
import { DrainTimeoutError, TaskSendError, TaskTimeoutError } from './errors.ts'
import { untrack } from './registry.ts'
import type { Entry, TaskList } from './tasks.ts'
import type { TaskContext, TaskEndInfo, TaskInfo, TaskOutcome, TaskSendResult, TaskTransport } from './types.ts'
import { describeValue } from './validate.ts'

/** Calls a user hook so that neither a throw nor a rejection can escape. */
const callHook = async <A extends unknown[]>(hook: (...args: A) => unknown, label: string, ...args: A): Promise<void> => {
  try {
    await hook(...args)
  } catch (error) {
    console.error(`[background-tasks] the ${label} hook threw:`, error)
  }
}

/**
 * `this` inside a task. The AbortController is made only when the task reads `signal` or the
 * attempt is aborted: on Node 20 it costs more than a no-op task itself.
 */
export class Attempt implements TaskContext {
  #controller: AbortController | undefined
  /** Why the attempt was aborted (a timeout or a drain), once it was. */
  reason: unknown

  constructor(
    readonly entry: Pick<Entry, 'fn' | 'args' | 'name' | 'id'>,
    readonly attempt: number,
    readonly env: unknown,
  ) {}

  get name(): string {
    return this.entry.name
  }

  get id(): string {
    return this.entry.id
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController()
      if (this.reason !== undefined) this.#controller.abort(this.reason)
    }
    return this.#controller.signal
  }

  abort(reason: unknown): void {
    if (this.reason !== undefined) return
    this.reason = reason
    this.#controller?.abort(reason)
  }
}

/** How one attempt ended. */
export interface Outcome {
  outcome: TaskOutcome
  error?: unknown
}

const SUCCESS: Outcome = { outcome: 'success' }

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as PromiseLike<unknown>).then === 'function'

/** An error a task raised because its attempt was aborted, rather than one of its own. */
const causedByAbort = (error: unknown, reason: unknown): boolean =>
  error === reason || (error as { cause?: unknown } | null)?.cause === reason || (error instanceof Error && error.name === 'AbortError')

/**
 * Runs one attempt: its outcome, never a rejection. A task that returns without a promise is
 * done at once; a promise races the timeout, which aborts the attempt and moves on.
 */
export const runAttempt = (context: Attempt, timeout: number | false): Outcome | Promise<Outcome> => {
  const { entry } = context
  let result: unknown
  try {
    result = entry.fn.apply(context, entry.args)
  } catch (error) {
    return { outcome: 'error', error }
  }
  try {
    if (!isThenable(result)) return SUCCESS
  } catch (error) {
    // A `then` getter that throws.
    return { outcome: 'error', error }
  }
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    if (timeout !== false) {
      timer = setTimeout(() => {
        const error = new TaskTimeoutError(entry.name, timeout)
        context.abort(error)
        resolve({ outcome: 'timeout', error })
      }, timeout)
    }
    // Promise.resolve() turns a `then` that throws into a rejection.
    Promise.resolve(result).then(
      () => {
        if (timer !== undefined) clearTimeout(timer)
        resolve(SUCCESS)
      },
      (error: unknown) => {
        if (timer !== undefined) clearTimeout(timer)
        // Past its timeout nothing waits for this attempt: an error other than the abort itself (a late
        // tasks.add() that throws, say) would vanish without a word.
        if (context.reason instanceof TaskTimeoutError && !causedByAbort(error, context.reason)) {
          console.error(`[background-tasks] task "${entry.name}" failed after it had timed out:`, error)
        }
        resolve({ outcome: 'error', error })
      },
    )
  })
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A retry delay from a number or a user function: never throws, never negative or non-finite. */
export const retryDelayFor = (
  retryDelay: number | ((attempt: number, error: unknown) => number),
  attempt: number,
  error: unknown,
  label = 'retryDelay',
): number => {
  let delay = 0
  try {
    delay = typeof retryDelay === 'function' ? retryDelay(attempt, error) : retryDelay
  } catch (thrown) {
    console.error(`[background-tasks] the ${label} function threw:`, thrown)
  }
  return Number.isFinite(delay) && delay > 0 ? delay : 0
}

/** What hooks and `onError` are told about an attempt. */
const infoOf = (entry: Entry, attempt: number): TaskInfo => ({ name: entry.name, id: entry.id, attempt, args: entry.args })

/** What `onTaskEnd` is told. A plain literal: on Node 20 a spread here costs microseconds. */
const endOf = (entry: Entry, attempt: number, outcome: TaskOutcome, duration: number, error: unknown, willRetry: boolean): TaskEndInfo => ({
  name: entry.name,
  id: entry.id,
  attempt,
  args: entry.args,
  outcome,
  duration,
  error,
  willRetry,
})

/** The first attempt, when the pump already ran it and it did not succeed at once. */
interface Started {
  context: Attempt
  result: Outcome | Promise<Outcome>
}

/** Runs one task through its (remaining) attempts and hooks. Never rejects. */
const runEntry = async (entry: Entry, list: TaskList, first?: Started): Promise<void> => {
  const { c, options } = list
  const { onTaskStart, onTaskEnd } = options
  const timeout = entry.options.timeout ?? options.timeout
  const retries = entry.options.retries ?? options.retries
  entry.state = 'running'
  for (let n = 1; ; n++) {
    let context: Attempt
    let result: Outcome | Promise<Outcome>
    let started = 0
    if (n === 1 && first) {
      ;({ context, result } = first)
    } else {
      if (onTaskStart) await callHook(onTaskStart, 'onTaskStart', infoOf(entry, n), c)
      context = new Attempt(entry, n, c.env)
      entry.attempt = context
      started = onTaskEnd ? performance.now() : 0
      result = runAttempt(context, timeout)
    }
    if (result instanceof Promise) result = await result
    const willRetry = result !== SUCCESS && n <= retries && !(context.reason instanceof DrainTimeoutError)
    if (onTaskEnd) {
      const end = endOf(entry, n, result.outcome, performance.now() - started, result.error, willRetry)
      await callHook(onTaskEnd, 'onTaskEnd', end, c)
    }
    if (result === SUCCESS) break
    if (!willRetry) {
      await callHook(options.onError, 'onError', result.error, infoOf(entry, n), c)
      break
    }
    await sleep(retryDelayFor(entry.options.retryDelay ?? options.retryDelay, n + 1, result.error))
  }
  entry.attempt = undefined
  entry.state = 'done'
}

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

/** Hands consecutive durable tasks to their transport in one call, and reports each. Never rejects. */
const sendEntries = async (batch: Entry[], transport: TaskTransport, list: TaskList): Promise<void> => {
  const { c, options } = list
  const infos = batch.map((entry) => {
    entry.state = 'running'
    return infoOf(entry, 1)
  })
  if (options.onTaskStart) for (const info of infos) await callHook(options.onTaskStart, 'onTaskStart', info, c)
  const started = performance.now()
  const enqueuedAt = Date.now()
  const messages = batch.map((entry) => ({ task: entry.name, args: entry.args, id: entry.id, enqueuedAt }))
  const taskOptions = batch.map((entry) => entry.options)
  let results: unknown
  const send = async () => {
    results = await transport.send(messages, c, taskOptions)
  }
  // The send gets the middleware's timeout, so that a hung queue client cannot hold the request's work forever.
  const sending = { name: infos.map((info) => info.name).join('", "'), id: batch[0]!.id, fn: send, args: [] }
  const result = await runAttempt(new Attempt(sending, 1, c.env), options.timeout)
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
  for (const entry of batch) entry.state = 'done'
}

/**
 * Sends the waiting durable tasks whose transport asks for it (`beforeResponse`) now, during the
 * hand-off, one call per transport; the runner skips them later. Never rejects.
 */
export const sendBeforeResponse = (list: TaskList): Promise<void> | undefined => {
  let groups: Map<TaskTransport, Entry[]> | undefined
  for (const entry of list.entries) {
    const { transport } = entry
    if (!transport?.beforeResponse || entry.state !== 'waiting' || (list.handlerFailed && !entry.options.always)) continue
    groups ??= new Map()
    const group = groups.get(transport)
    if (group) group.push(entry)
    else groups.set(transport, [entry])
  }
  if (!groups) return undefined
  return Promise.all([...groups].map(([transport, entries]) => sendEntries(entries, transport, list))).then(() => {})
}

/** Reports the tasks a failed handler leaves out (all but `always`) as skipped. Tasks that an `always` task adds later do run. */
const skipTasks = async (list: TaskList, c: Context): Promise<void> => {
  for (let i = list.cursor; i < list.entries.length; i++) {
    const entry = list.entries[i] as Entry
    if (entry.options.always || entry.state !== 'waiting') continue
    entry.state = 'skipped'
    if (list.options.onTaskEnd) await callHook(list.options.onTaskEnd, 'onTaskEnd', endOf(entry, 0, 'skipped', 0, undefined, false), c)
  }
}

/** One task of the list has settled: make room for the next. */
const settle = (list: TaskList): void => {
  list.active--
  pump(list)
}

/** Starts tasks while there is room. Re-entrant calls (a task adding a task) only mark the queue. */
const pump = (list: TaskList): void => {
  if (list.pumping) return
  list.pumping = true
  const { options } = list
  // Without hooks, a task that returns without a promise is done right here: no promise, no timer.
  const inline = !options.onTaskStart && !options.onTaskEnd
  while (list.active < options.concurrency && list.cursor < list.entries.length) {
    const entry = list.entries[list.cursor++] as Entry
    // Skipped, or already sent before the response.
    if (entry.state !== 'waiting') continue
    let work: Promise<void>
    const { transport } = entry
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
    } else {
      let first: Started | undefined
      if (inline) {
        entry.state = 'running'
        const context = new Attempt(entry, 1, list.c.env)
        entry.attempt = context
        const result = runAttempt(context, entry.options.timeout ?? options.timeout)
        if (result === SUCCESS) {
          entry.attempt = undefined
          entry.state = 'done'
          continue
        }
        first = { context, result }
      }
      work = runEntry(entry, list, first)
    }
    list.active++
    work.then(
      () => settle(list),
      (error: unknown) => {
        console.error(`[background-tasks] internal error while running task "${entry.name}":`, error)
        settle(list)
      },
    )
  }
  list.pumping = false
  if (list.active === 0 && list.cursor >= list.entries.length) {
    list.state = 'done'
    list.onAdd = undefined
    list.finish?.()
    untrack(list)
  }
}

function pumpOnAdd(this: TaskList): void {
  pump(this)
}

/**
 * Starts running a request's tasks in the order added, `concurrency` at a time, including tasks
 * added while it runs; `list.finish` is called once all have settled. Later calls do nothing.
 */
export const startTasks = (list: TaskList): void => {
  if (list.state !== 'collecting') return
  list.state = 'running'
  list.onAdd = pumpOnAdd
  if (list.handlerFailed) {
    // Until every task the failure leaves out is marked, an add may append but must not start anything.
    list.pumping = true
    skipTasks(list, list.c).then(() => {
      list.pumping = false
      pump(list)
    })
  } else pump(list)
}

/** Runs a request's tasks now; resolves once all have settled, never rejects. */
export const runTasks = (list: TaskList): Promise<void> =>
  new Promise<void>((resolve) => {
    list.finish = resolve
    startTasks(list)
  })
