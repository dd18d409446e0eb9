import { DrainTimeoutError } from './errors.ts'
import { checkOptionsObject, checkTimeout } from './validate.ts'

/** One task of a request's work, as the registry reads it. */
export interface TrackedTask {
  readonly name: string
  readonly state: 'waiting' | 'running' | 'done' | 'skipped'
  /** Aborts the attempt running now, if any. */
  abort(reason: unknown): void
}

/** A request's work, as the registry reads it. */
export interface TrackedWork {
  /** The request, as `describeRequest` names it (`METHOD /route/:pattern` by default). */
  readonly request: string
  /** Every task it added, in order. */
  readonly tasks: readonly TrackedTask[]
}

/** A task the in-process runner has not finished yet. */
export interface PendingTask {
  /** The task's name. */
  readonly name: string
  /** `waiting` for its response to finish or its turn, or `running`. */
  readonly state: 'waiting' | 'running'
  /** The request that added it, as `describeRequest` names it: `POST /invite/:token` by default, never the raw path. */
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

/** A request's place in the registry, from `track()` to `untrack()`. */
export interface Ticket {
  readonly work: TrackedWork
}

/**
 * The registry is a doubly linked list of tickets, oldest first: a Set that grows from empty and
 * shrinks back rehashes on every request (callgrind: about 250 more instructions per request).
 */
interface Link extends Ticket {
  prev: Link | undefined
  next: Link | undefined
}

let first: Link | undefined
let last: Link | undefined
let tracked = 0
/** Requests inside the middleware that have not handed off yet: a drain must wait for them too. */
let inFlight = 0
/** Wakes the drains that are waiting, whenever the registry or the in-flight count changes. */
const wakers = new Set<() => void>()
/** Work that draining calls have seen, so that work registered and finished meanwhile is named. */
const drains = new Set<Set<TrackedWork>>()

const changed = (): void => {
  for (const wake of wakers) wake()
}

/** The work the registry holds, oldest first. */
const held = (): TrackedWork[] => {
  const works: TrackedWork[] = []
  for (let node = first; node; node = node.next) works.push(node.work)
  return works
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

/** Keeps a request's work in the registry until `untrack()` with the ticket it returns. */
export const track = (work: TrackedWork): Ticket => {
  const node: Link = { work, prev: last, next: undefined }
  if (last) last.next = node
  else first = node
  last = node
  tracked++
  if (drains.size > 0) for (const seen of drains) seen.add(work)
  return node
}

/** The request's work has settled; a second call with the same ticket does nothing. */
export const untrack = (ticket: Ticket): void => {
  const node = ticket as Link
  // Untracked already: its links are gone, and unlinking again would cut the others off.
  if (!node.prev && first !== node) return
  if (node.prev) node.prev.next = node.next
  else first = node.next
  if (node.next) node.next.prev = node.prev
  else last = node.prev
  // A ticket kept after it was untracked must not hold other requests' work.
  node.prev = node.next = undefined
  tracked--
  if (wakers.size > 0) changed()
}

/**
 * Lists the work the in-process runner (Node, Bun, Deno) still holds, oldest request first.
 * @example
 * console.log(pendingTasks().map((t) => `${t.name} (${t.state})`))
 */
export const pendingTasks = (): PendingTask[] => {
  const pending: PendingTask[] = []
  for (const work of held()) {
    for (const task of work.tasks) {
      if (task.state === 'waiting' || task.state === 'running') pending.push({ name: task.name, state: task.state, request: work.request })
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
  const seen = new Set<TrackedWork>(held())
  // Tasks already done when the drain starts did not finish during it.
  const doneBefore = new Set<TrackedTask>()
  for (const work of seen) for (const task of work.tasks) if (task.state === 'done') doneBefore.add(task)
  drains.add(seen)
  let timer: ReturnType<typeof setTimeout> | undefined
  let wake = (): void => {}
  const deadline = new Promise<'deadline'>((resolve) => {
    if (timeout !== false) timer = setTimeout(resolve, timeout, 'deadline')
  })
  const waker = () => wake()
  wakers.add(waker)
  try {
    while (tracked > 0 || inFlight > 0) {
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
  for (const work of seen) {
    for (const task of work.tasks) {
      if (task.state === 'done') {
        if (!doneBefore.has(task)) finished.push(task.name)
      } else if (task.state !== 'skipped') {
        unfinished.push(task.name)
        task.abort(new DrainTimeoutError(task.name))
      }
    }
  }
  return { finished, unfinished }
}
