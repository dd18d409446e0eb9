import { DEADLINE, Deadline } from './deadline.ts'
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
 * The registry keeps a doubly linked list of tickets, oldest first: a Set that grows from empty and
 * shrinks back rehashes on every request (bench/analysis.md, "The hot path on Node").
 */
interface Link extends Ticket {
  prev: Link | undefined
  next: Link | undefined
}

/**
 * The in-process runner's registry (Node, Bun, Deno): the work of every request that handed it
 * off and has not settled, and the requests still inside the middleware, so that it can be
 * listed and drained. One per process (`processRegistry`); a test can make its own.
 */
export class Registry {
  #first: Link | undefined
  #last: Link | undefined
  #tracked = 0
  /** Requests inside the middleware that have not handed off yet: a drain must wait for them too. */
  #inFlight = 0
  /** Wakes the drains that are waiting, whenever the registry or the in-flight count changes. */
  readonly #wakers = new Set<() => void>()
  /** Work that draining calls have seen, so that work registered and finished meanwhile is named. */
  readonly #drains = new Set<Set<TrackedWork>>()

  #changed(): void {
    for (const wake of this.#wakers) wake()
  }

  /** The work held, oldest first. */
  #held(): TrackedWork[] {
    const works: TrackedWork[] = []
    for (let node = this.#first; node; node = node.next) works.push(node.work)
    return works
  }

  /** Counts a request in flight until `leave()`; the middleware calls both. */
  enter(): void {
    this.#inFlight++
  }

  /** The request has handed off its work (or has none). */
  leave(): void {
    this.#inFlight--
    if (this.#wakers.size > 0) this.#changed()
  }

  /** Keeps a request's work until `untrack()` with the ticket it returns. */
  track(work: TrackedWork): Ticket {
    const node: Link = { work, prev: this.#last, next: undefined }
    if (this.#last) this.#last.next = node
    else this.#first = node
    this.#last = node
    this.#tracked++
    if (this.#drains.size > 0) for (const seen of this.#drains) seen.add(work)
    return node
  }

  /** The request's work has settled; a second call with the same ticket does nothing. */
  untrack(ticket: Ticket): void {
    const node = ticket as Link
    // Untracked already: its links are gone, and unlinking again would cut the others off.
    if (!node.prev && this.#first !== node) return
    if (node.prev) node.prev.next = node.next
    else this.#first = node.next
    if (node.next) node.next.prev = node.prev
    else this.#last = node.prev
    // A ticket kept after it was untracked must not hold other requests' work.
    node.prev = node.next = undefined
    this.#tracked--
    if (this.#wakers.size > 0) this.#changed()
  }

  /** The tasks not finished yet, oldest request first. */
  pending(): PendingTask[] {
    const pending: PendingTask[] = []
    for (const work of this.#held()) {
      for (const task of work.tasks) {
        if (task.state === 'waiting' || task.state === 'running')
          pending.push({ name: task.name, state: task.state, request: work.request })
      }
    }
    return pending
  }

  /** Waits for all the work, including that of requests still in their handler, up to `timeout`; then aborts what runs. */
  async drain(timeout: number | false): Promise<DrainResult> {
    const seen = new Set<TrackedWork>(this.#held())
    // Tasks already done when the drain starts did not finish during it.
    const doneBefore = new Set<TrackedTask>()
    for (const work of seen) for (const task of work.tasks) if (task.state === 'done') doneBefore.add(task)
    this.#drains.add(seen)
    const deadline = new Deadline(timeout)
    let wake = (): void => {}
    const waker = () => wake()
    this.#wakers.add(waker)
    try {
      while (this.#tracked > 0 || this.#inFlight > 0) {
        const change = new Promise<void>((resolve) => {
          wake = resolve
        })
        if ((await deadline.race(change)) === DEADLINE) break
      }
    } finally {
      deadline.clear()
      this.#wakers.delete(waker)
      this.#drains.delete(seen)
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
}

/**
 * The process's registry, under a `Symbol.for` key on `globalThis`: two copies of the package in
 * one process (a bundled one and an installed one, say) share it, so that a drain sees all work.
 */
const REGISTRY = Symbol.for('hono-background-tasks.registry')
const shared = globalThis as { [REGISTRY]?: Registry }
shared[REGISTRY] ??= new Registry()
export const processRegistry: Registry = shared[REGISTRY]

/**
 * Lists the work the in-process runner (Node, Bun, Deno) still holds, oldest request first.
 * @example
 * console.log(pendingTasks().map((t) => `${t.name} (${t.state})`))
 */
export const pendingTasks = (): PendingTask[] => processRegistry.pending()

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
  return processRegistry.drain(timeout)
}
