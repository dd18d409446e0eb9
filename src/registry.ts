import { DrainTimeoutError } from './errors.ts'
import { describeRequest } from './options.ts'
import type { Entry, TaskList } from './tasks.ts'
import { checkOptionsObject, checkTimeout } from './validate.ts'

/** A task the in-process runner has not finished yet. */
export interface PendingTask {
  /** The task's name. */
  readonly name: string
  /** `waiting` for its response to finish or its turn, or `running`. */
  readonly state: 'waiting' | 'running'
  /** The request that added it, as `METHOD /path`. */
  readonly request: string
}

/** What `drainTasks()` saw: the tasks that finished while it waited, and those that did not, by name. */
export interface DrainResult {
  /** Names of tasks that settled (succeeded or failed for good) during the drain. */
  readonly finished: string[]
  /** Names of tasks still waiting or running at the deadline. */
  readonly unfinished: string[]
}

/** Options of `drainTasks()`. */
export interface DrainOptions {
  /** Milliseconds to wait before giving up, or `false` to wait for everything. @default 10_000 */
  timeout?: number | false
}

const inProcess = new Map<TaskList, Promise<void>>()
/** Requests inside the middleware that have not handed off yet: a drain must wait for them too. */
let inFlight = 0
/** Wakes the drains that are waiting, whenever the registry or the in-flight count changes. */
const wakers = new Set<() => void>()
/** Lists that draining calls have seen, so that work registered and finished meanwhile is named. */
const drains = new Set<Set<TaskList>>()

const changed = (): void => {
  for (const wake of wakers) wake()
}

/** Counts a request in flight until `leave()`; the middleware calls both. */
export const enter = (): void => {
  inFlight++
}

/** The request has handed off its work (or has none). */
export const leave = (): void => {
  inFlight--
  if (wakers.size > 0) changed()
}

/** Keeps a request's work in the registry until `untrack()`. */
export const track = (list: TaskList, work: Promise<void>): void => {
  inProcess.set(list, work)
  for (const seen of drains) seen.add(list)
}

/** The request's work has settled (a no-op for work the registry does not hold). */
export const untrack = (list: TaskList): void => {
  if (inProcess.delete(list) && wakers.size > 0) changed()
}

/**
 * Lists the work the in-process runner (Node, Bun, Deno) still holds, oldest request first.
 * @example
 * console.log(pendingTasks().map((t) => `${t.name} (${t.state})`))
 */
export const pendingTasks = (): PendingTask[] => {
  const pending: PendingTask[] = []
  for (const list of inProcess.keys()) {
    for (const entry of list.entries) {
      if (entry.state === 'waiting' || entry.state === 'running') {
        pending.push({ name: entry.name, state: entry.state, request: describeRequest(list.c) })
      }
    }
  }
  return pending
}

/**
 * Waits for all in-process background work, including that of requests still in their handler,
 * up to a deadline. At the deadline the running tasks' signals are aborted; nothing else is cancelled.
 * @example
 * const { unfinished } = await drainTasks({ timeout: 10_000 })
 * if (unfinished.length) console.error('not finished:', unfinished.join(', '))
 */
export const drainTasks = async (options: DrainOptions = {}): Promise<DrainResult> => {
  checkOptionsObject('drainTasks', options, ['timeout'])
  const { timeout = 10_000 } = options
  checkTimeout('drainTasks', 'timeout', timeout)
  const seen = new Set<TaskList>(inProcess.keys())
  // Tasks already done when the drain starts did not finish during it.
  const doneBefore = new Set<Entry>()
  for (const list of seen) for (const entry of list.entries) if (entry.state === 'done') doneBefore.add(entry)
  drains.add(seen)
  let timer: ReturnType<typeof setTimeout> | undefined
  let wake = (): void => {}
  const deadline = new Promise<'deadline'>((resolve) => {
    if (timeout !== false) timer = setTimeout(resolve, timeout, 'deadline')
  })
  const waker = () => wake()
  wakers.add(waker)
  try {
    while (inProcess.size > 0 || inFlight > 0) {
      const change = new Promise<'changed'>((resolve) => {
        wake = () => resolve('changed')
      })
      if ((await Promise.race([change, deadline])) === 'deadline') break
    }
  } finally {
    if (timer !== undefined) clearTimeout(timer)
    wakers.delete(waker)
    drains.delete(seen)
  }
  const finished: string[] = []
  const unfinished: string[] = []
  for (const list of seen) {
    for (const entry of list.entries) {
      if (entry.state === 'done') {
        if (!doneBefore.has(entry)) finished.push(entry.name)
      } else if (entry.state !== 'skipped') {
        unfinished.push(entry.name)
        entry.attempt?.abort(new DrainTimeoutError(entry.name))
      }
    }
  }
  return { finished, unfinished }
}
