import type { Context } from 'hono'
import { Attempt, observeAttempt, SUCCESS } from './attempt.ts'
import { DrainTimeoutError } from './errors.ts'
import type { ResolvedOptions } from './options.ts'
import { callHook, endOf, infoOf } from './reports.ts'
import { retriesLeft, retryDelayFor } from './retry.ts'
import { taskName } from './task.ts'
import type { AttemptResult, Task, TaskFunction, TaskOptions, TaskTransport } from './types.ts'

/** Where an added task is in its life. */
export type EntryState = 'waiting' | 'running' | 'done' | 'skipped'

/** What an entry is made of; `options`, `durable` and `transport` only for a `task()` or `defineTask()`. */
export interface EntryInit {
  readonly fn: TaskFunction
  readonly args: readonly unknown[]
  readonly options?: Readonly<TaskOptions>
  readonly durable?: Durable
  readonly transport?: TaskTransport
  /** What the instrumentation captured at `add()`. */
  readonly origin?: unknown
}

const NO_OPTIONS: Readonly<TaskOptions> = Object.freeze({})

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * One added task and where it is in its life: waiting, running its attempts (retried as its
 * options say, with the hooks around each), then done; or skipped, or sent to a transport. Only
 * its own methods change its state.
 */
export class Entry {
  // Declared, not class fields: as ES2022 fields each would be defined once more before the constructor
  // assigns it, and an entry is made per added task.
  declare readonly fn: TaskFunction
  declare readonly args: readonly unknown[]
  /** `task()`'s options; a bare function has none. */
  declare readonly options: Readonly<TaskOptions>
  /** What makes it durable: `defineTask()`'s check and send. */
  declare readonly durable: Durable | undefined
  /** A durable task with a transport is sent there, by `durable.send`, instead of being run. */
  declare readonly transport: TaskTransport | undefined
  /** What the instrumentation captured at `add()` (the active span, say), given back to it for each attempt. */
  declare readonly origin: unknown
  #state: EntryState = 'waiting'
  /** The attempt running now, so that a drain can abort it. */
  #attempt: Attempt | undefined
  #id: string | undefined
  #name: string | undefined

  constructor(init: EntryInit) {
    this.fn = init.fn
    this.args = init.args
    this.options = init.options ?? NO_OPTIONS
    this.durable = init.durable
    this.transport = init.transport
    this.origin = init.origin
  }

  /** Its options' `name`, else its function's: read when first needed, since `fn.name` is a slow accessor on Node 20. */
  get name(): string {
    this.#name ??= this.options.name ?? taskName(this.fn)
    return this.#name
  }

  /** `this.id` in the task, and its queue message's id; made when first read. */
  get id(): string {
    this.#id ??= crypto.randomUUID()
    return this.#id
  }

  get state(): EntryState {
    return this.#state
  }

  /** Aborts the attempt running now, if any (a drain at its deadline). */
  abort(reason: unknown): void {
    this.#attempt?.abort(reason)
  }

  /** The handler failed and this task does not run `always`: it never runs. */
  markSkipped(): void {
    if (this.#state === 'waiting') this.#state = 'skipped'
  }

  /** A durable task is being handed to its transport. */
  markSending(): void {
    if (this.#state === 'waiting') this.#state = 'running'
  }

  /** Its transport has accepted it, or failed to: either way it is over here. */
  markSent(): void {
    this.#state = 'done'
  }

  /**
   * Runs the task's attempts, with the hooks around each. Returns nothing when it was over at once
   * (no hooks, and a task that returns without a promise); otherwise the rest of its run, which
   * never rejects.
   */
  run(c: Context, options: ResolvedOptions): Promise<void> | undefined {
    this.#state = 'running'
    if (options.onTaskStart || options.onTaskEnd) return this.#run(c, options)
    // Without start or end hooks, the first attempt runs here and now: no promise, no timer.
    const context = new Attempt(this, 1, c.env)
    this.#attempt = context
    const result = observeAttempt(context, this.options.timeout ?? options.timeout, options.instrumentation, this.origin)
    if (result !== SUCCESS) return this.#run(c, options, context, result)
    this.#attempt = undefined
    this.#state = 'done'
    return undefined
  }

  async #run(c: Context, options: ResolvedOptions, first?: Attempt, firstResult?: AttemptResult | Promise<AttemptResult>): Promise<void> {
    const { onTaskStart, onTaskEnd } = options
    const timeout = this.options.timeout ?? options.timeout
    const retries = this.options.retries ?? options.retries
    for (let n = 1; ; n++) {
      let context: Attempt
      let result: AttemptResult | Promise<AttemptResult>
      let started = 0
      if (n === 1 && first && firstResult) {
        context = first
        result = firstResult
      } else {
        if (onTaskStart) await callHook(onTaskStart, 'onTaskStart', infoOf(this, n), c)
        context = new Attempt(this, n, c.env)
        this.#attempt = context
        started = onTaskEnd ? performance.now() : 0
        result = observeAttempt(context, timeout, options.instrumentation, this.origin)
      }
      if (result instanceof Promise) result = await result
      // A drain that gave up on the task aborted it: it is not tried again.
      const willRetry = result !== SUCCESS && retriesLeft(n, retries) && !(context.reason instanceof DrainTimeoutError)
      if (onTaskEnd) {
        const end = endOf(this, n, result.outcome, performance.now() - started, result.error, willRetry)
        await callHook(onTaskEnd, 'onTaskEnd', end, c)
      }
      if (result === SUCCESS) break
      if (!willRetry) {
        await callHook(options.onError, 'onError', result.error, infoOf(this, n), c)
        break
      }
      await sleep(retryDelayFor(this.options.retryDelay ?? options.retryDelay, n + 1, result.error))
    }
    this.#attempt = undefined
    this.#state = 'done'
  }
}

/**
 * What makes a task durable, attached by `defineTask()`: how its arguments are checked, where it
 * goes, and how it is sent. The core reaches durable code only through it, so that apps without
 * durable tasks do not carry that code. Not meant to be built by hand.
 */
export interface Durable {
  /**
   * Called by `add()`: throws a TypeError naming the task and the path when the arguments would
   * not survive JSON; returns them as they will be sent.
   */
  readonly checkArgs: (args: readonly unknown[]) => unknown[]
  /** Sends this task here instead of the middleware's `transport`. */
  readonly transport?: TaskTransport
  /** Hands consecutive durable tasks of one request to their transport and reports each; never rejects. */
  readonly send: (batch: readonly Entry[], transport: TaskTransport, c: Context, options: ResolvedOptions) => Promise<void>
}

/** A task as `add()` receives it: from `task()`, or from `defineTask()` with what makes it durable. */
// biome-ignore lint/suspicious/noExplicitAny: see TaskFunction.
export type AddedTask<Args extends any[] = any[]> = Task<Args> & { readonly durable?: Durable }
