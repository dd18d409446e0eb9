import type { Context } from 'hono'
import { type AddedTask, type Durable, Entry } from './entry.ts'
import { captureOrigin } from './instrumentation.ts'
import type { ResolvedOptions } from './options.ts'
import { processRegistry, type Ticket, type TrackedWork } from './registry.ts'
import { callHook, endOf } from './reports.ts'
import type { Work } from './response-tags.ts'
import type { Lifetime } from './runtime/adapter.ts'
import { isTask, taskName } from './task.ts'
import type { BackgroundTasks, Task, TaskFunction, TaskTransport } from './types.ts'
import { describeValue } from './validate.ts'

/** Shared by every list until its first add (most requests add no task or one); frozen, so that a push throws. */
const NONE = Object.freeze([]) as readonly Entry[] as Entry[]

const nameOf = (fn: TaskFunction | Task): string => (typeof fn === 'function' ? taskName(fn) : (fn.options.name ?? taskName(fn.fn)))

/** Durable tasks carry their own sender (`defineTask()` attaches it), so that the core does not. */
const sendBatch = (batch: Entry[], transport: TaskTransport, c: Context, options: ResolvedOptions): Promise<void> =>
  ((batch[0] as Entry).durable as Durable).send(batch, transport, c, options)

/**
 * The tasks of one request, behind `c.var.tasks`, and the owner of their work from `add()` to done.
 * It collects while the handler runs and until the response is finished; `start()` then runs the
 * tasks in the order added, `concurrency` at a time, including tasks added while they run; once all
 * have settled it is done and refuses further adds. The tasks run in the async context of the
 * first `add()` (the request's), whatever observed that the response was finished.
 */
export class RequestTasks implements BackgroundTasks, TrackedWork, Work {
  readonly #c: Context
  readonly #options: ResolvedOptions
  readonly #onFirstTask: ((c: Context) => void) | undefined
  #entries = NONE
  #state: 'collecting' | 'running' | 'done' = 'collecting'
  /** Index of the next entry to start. */
  #cursor = 0
  /** Tasks running now. */
  #active = 0
  /** Starting tasks now: a nested add only has to append. */
  #pumping = false
  /** Made at the first add(): `start()` calls it, and the tasks start from a continuation of that add. */
  #open: (() => void) | undefined
  #handlerFailed = false
  /** Set by `handOffLate()`: the late hand-off, of the tasks added once the handler has returned. */
  #lateHandOff: (() => void) | undefined
  /** What `done()` returns, made at its first call; `#resolveDone` settles it when the work is done. */
  #done: Promise<void> | undefined
  #resolveDone: (() => void) | undefined
  /** The in-process registry's hold on this work, until it is done. */
  #ticket: Ticket | undefined

  /** `onFirstTask` is the runtime's, called at the first `add()` (see `RuntimeAdapter`). */
  constructor(c: Context, options: ResolvedOptions, onFirstTask?: (c: Context) => void) {
    this.#c = c
    this.#options = options
    this.#onFirstTask = onFirstTask
  }

  /** How many tasks this request has added so far. */
  get size(): number {
    return this.#entries.length
  }

  /** Every task added, in order, for the in-process registry. */
  get tasks(): readonly Entry[] {
    return this.#entries
  }

  /** The request, as `describeRequest` names it: `METHOD /route/:pattern` by default. */
  get request(): string {
    return this.#options.describeRequest(this.#c)
  }

  // biome-ignore lint/suspicious/noExplicitAny: see TaskFunction.
  add<Args extends any[]>(fn: TaskFunction<Args> | Task<Args>, ...args: Args): void {
    const bare = typeof fn === 'function'
    if (!bare && !isTask(fn)) throw new TypeError(`tasks.add: expected a function or a task() to run, got ${describeValue(fn)}`)
    if (this.#state === 'done') {
      throw new Error(
        `tasks.add: the background work of ${this.request} has already finished, so task "${nameOf(fn)}" would never run; add tasks from the handler or from a task that is still running`,
      )
    }
    if (this.#entries.length >= this.#options.maxTasks) {
      throw new RangeError(
        `tasks.add: ${this.request} already has ${this.#entries.length} tasks, the \`maxTasks\` limit; task "${nameOf(fn)}" was not added (raise \`maxTasks\` in backgroundTasks() if this is expected)`,
      )
    }
    let entry: Entry
    const { instrumentation } = this.#options
    if (bare) {
      entry = new Entry({ fn, args, origin: instrumentation && captureOrigin(instrumentation) })
    } else {
      const { durable } = fn as AddedTask
      if (durable && typeof durable.send !== 'function') {
        throw new TypeError(
          `tasks.add: task "${nameOf(fn)}" is durable but was not made by this copy's defineTask(), which gives it its sender; import defineTask from the same hono-background-tasks as backgroundTasks`,
        )
      }
      // A durable task's arguments are checked even without a transport, so that tests catch them.
      const checked = durable ? durable.checkArgs(args) : args
      const transport = durable && (durable.transport ?? this.#options.transport)
      entry = new Entry({
        fn: fn.fn,
        args: checked,
        options: fn.options,
        durable,
        transport,
        origin: instrumentation && captureOrigin(instrumentation),
      })
      // The transport may refuse the message it would send (over its queue's size limit, say), or the task's options.
      transport?.check?.({ task: entry.name, args: checked, id: entry.id, enqueuedAt: Date.now() }, fn.options)
    }
    if (this.#entries === NONE) this.#entries = [entry]
    else this.#entries.push(entry)
    if (this.#state === 'running') this.#pump()
    else {
      if (!this.#open) {
        this.#gate()
        this.#onFirstTask?.(this.#c)
      }
      if (this.#lateHandOff) this.#handOffNow()
    }
  }

  /**
   * A continuation keeps the async context it was registered in (Node, Bun, Deno, workerd): made
   * here, at the first add(), it starts the tasks in the request's context, even from Node's
   * 'close', which has none. One promise per request, none per task.
   */
  #gate(): void {
    new Promise<void>((resolve) => {
      this.#open = resolve
    }).then(() => this.#begin())
  }

  /**
   * For a list that is still empty when the handler returns: `handOff` is called at the first add
   * (from a stream callback, say). If it throws, that task is refused with its error.
   */
  handOffLate(handOff: () => void): void {
    this.#lateHandOff = handOff
  }

  /** The first add of a late list: the late hand-off runs, once. */
  #handOffNow(): void {
    const handOff = this.#lateHandOff as () => void
    this.#lateHandOff = undefined
    try {
      handOff()
    } catch (error) {
      this.#lateHandOff = handOff
      this.#entries.pop()
      throw error
    }
  }

  /**
   * Keeps the work alive after the response: the in-process registry holds it until it is done,
   * or the platform's `waitUntil` gets a promise of it. Called once, when the work is handed off.
   */
  keepAlive(lifetime: Lifetime): void {
    if (lifetime.kind === 'in-process') this.#ticket = processRegistry.track(this)
    else if (lifetime.kind === 'waitUntil') {
      try {
        lifetime.waitUntil(this.done())
      } catch (error) {
        // The tasks still run; only their lifetime is not guaranteed.
        console.error(`[background-tasks] waitUntil from ${lifetime.source} threw; the tasks run without it:`, error)
      }
    }
  }

  /**
   * Starts running the tasks; after a failed handler only `always` ones run, and the rest are
   * reported as skipped first. Later calls do nothing.
   */
  start(handlerFailed: boolean): void {
    if (this.#state !== 'collecting') return
    this.#state = 'running'
    this.#handlerFailed = handlerFailed
    // Until the gate's continuation runs, an add may append but must not start anything.
    this.#pumping = true
    if (this.#open) this.#open()
    else this.#begin()
  }

  /** Runs in the context of the first add(): skips what a failed handler leaves out, then starts the rest. */
  #begin(): void {
    if (!this.#handlerFailed) {
      this.#pumping = false
      this.#pump()
      return
    }
    // Until every task the failure leaves out is marked, an add may append but must not start anything.
    this.#skip().then(() => {
      this.#pumping = false
      this.#pump()
    })
  }

  /**
   * Sends the waiting durable tasks whose transport asks for it (`beforeResponse`) now, during the
   * hand-off, one call per transport; the pump passes them by later. Tasks a failed handler leaves
   * out are not sent. Returns `undefined` when there is nothing to send; never rejects.
   */
  sendBeforeResponse(handlerFailed: boolean): Promise<void> | undefined {
    let groups: Map<TaskTransport, Entry[]> | undefined
    for (const entry of this.#entries) {
      const { transport } = entry
      if (!transport?.beforeResponse || entry.state !== 'waiting' || (handlerFailed && !entry.options.always)) continue
      groups ??= new Map()
      const group = groups.get(transport)
      if (group) group.push(entry)
      else groups.set(transport, [entry])
    }
    if (!groups) return undefined
    return Promise.all([...groups].map(([transport, entries]) => sendBatch(entries, transport, this.#c, this.#options))).then(() => {})
  }

  /** Resolves once every task has settled; never rejects. */
  done(): Promise<void> {
    if (this.#state === 'done') return Promise.resolve()
    this.#done ??= new Promise<void>((resolve) => {
      this.#resolveDone = resolve
    })
    return this.#done
  }

  /** Reports the tasks a failed handler leaves out (all but `always`) as skipped. Tasks that an `always` task adds later do run. */
  async #skip(): Promise<void> {
    const { onTaskEnd } = this.#options
    for (let i = this.#cursor; i < this.#entries.length; i++) {
      const entry = this.#entries[i] as Entry
      if (entry.options.always || entry.state !== 'waiting') continue
      entry.markSkipped()
      if (onTaskEnd) await callHook(onTaskEnd, 'onTaskEnd', endOf(entry, 0, 'skipped', 0, undefined, false), this.#c)
    }
  }

  /** Starts tasks while there is room. Re-entrant calls (a task adding a task) only append. */
  #pump(): void {
    if (this.#pumping) return
    this.#pumping = true
    const c = this.#c
    const options = this.#options
    const entries = this.#entries
    while (this.#active < options.concurrency && this.#cursor < entries.length) {
      const entry = entries[this.#cursor++] as Entry
      // Skipped, or already sent before the response.
      if (entry.state !== 'waiting') continue
      let work: Promise<void> | undefined
      const { transport } = entry
      if (transport) {
        // Consecutive durable tasks for the same transport go in one batch; order is kept.
        const batch = [entry]
        while (this.#cursor < entries.length) {
          const following = entries[this.#cursor] as Entry
          if (following.state === 'waiting' && following.transport !== transport) break
          this.#cursor++
          if (following.state === 'waiting') batch.push(following)
        }
        work = sendBatch(batch, transport, c, options)
      } else {
        work = entry.run(c, options)
        if (!work) continue
      }
      this.#active++
      work.then(
        () => this.#settle(),
        (error: unknown) => {
          console.error(`[background-tasks] internal error while running task "${entry.name}":`, error)
          this.#settle()
        },
      )
    }
    this.#pumping = false
    if (this.#active === 0 && this.#cursor >= entries.length) this.#finish()
  }

  /** One task has settled: make room for the next. */
  #settle(): void {
    this.#active--
    this.#pump()
  }

  #finish(): void {
    this.#state = 'done'
    this.#resolveDone?.()
    if (this.#ticket) processRegistry.untrack(this.#ticket)
    this.#ticket = undefined
  }
}
