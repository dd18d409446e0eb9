import type { Context } from 'hono'
import { Attempt, type Outcome, retryDelayFor, SUCCESS } from './attempt.ts'
import { DrainTimeoutError } from './errors.ts'
import { callHook, endOf, infoOf } from './hooks.ts'
import { observeAttempt } from './instrumentation.ts'
import type { ResolvedOptions } from './options.ts'
import type { TaskFunction, TaskOptions, TaskTransport } from './types.ts'

/** Where an added task is in its life. */
export type EntryState = 'waiting' | 'running' | 'done' | 'skipped'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * One added task and where it is in its life: waiting, running its attempts (retried as its
 * options say, with the hooks around each), then done; or skipped, or sent to a transport.
 */
export class Entry {
  #state: EntryState = 'waiting'
  /** The attempt running now, so that a drain can abort it. */
  #attempt: Attempt | undefined
  #id: string | undefined

  constructor(
    readonly fn: TaskFunction,
    readonly args: readonly unknown[],
    readonly name: string,
    readonly options: Readonly<TaskOptions>,
    /** A durable task with a transport is sent there instead of being run. */
    readonly transport?: TaskTransport,
    /** What the instrumentation captured at `add()` (the active span, say), given back to it for each attempt. */
    readonly origin?: unknown,
  ) {}

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

  /** The handler failed and this task does not run `always`. */
  skip(): void {
    this.#state = 'skipped'
  }

  /** Handed to its transport, which settles it with `sent()`. */
  send(): void {
    this.#state = 'running'
  }

  /** Its transport has accepted it, or failed to. */
  sent(): void {
    this.#state = 'done'
  }

  /**
   * Runs the first attempt here and now, for a list without start or end hooks. Returns nothing
   * when it was over at once (a task that returns without a promise); otherwise the rest of its
   * run, which never rejects.
   */
  runInline(c: Context, options: ResolvedOptions): Promise<void> | undefined {
    this.#state = 'running'
    const context = new Attempt(this, 1, c.env)
    this.#attempt = context
    const result = observeAttempt(context, this.options.timeout ?? options.timeout, options.instrumentation, this.origin)
    if (result !== SUCCESS) return this.#run(c, options, context, result)
    this.#attempt = undefined
    this.#state = 'done'
    return undefined
  }

  /** Runs every attempt, with the hooks around each. Never rejects. */
  run(c: Context, options: ResolvedOptions): Promise<void> {
    this.#state = 'running'
    return this.#run(c, options)
  }

  async #run(c: Context, options: ResolvedOptions, first?: Attempt, firstResult?: Outcome | Promise<Outcome>): Promise<void> {
    const { onTaskStart, onTaskEnd } = options
    const timeout = this.options.timeout ?? options.timeout
    const retries = this.options.retries ?? options.retries
    for (let n = 1; ; n++) {
      let context: Attempt
      let result: Outcome | Promise<Outcome>
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
      const willRetry = result !== SUCCESS && n <= retries && !(context.reason instanceof DrainTimeoutError)
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
