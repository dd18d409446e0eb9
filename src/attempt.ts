import { TaskTimeoutError } from './errors.ts'
import { invoke } from './instrumentation.ts'
import type { Reported } from './reports.ts'
import { activeChannel, publishAttempt } from './tracing-channel.ts'
import type { AttemptResult, TaskChannelMessage, TaskContext, TaskDelivery, TaskFunction, TaskInstrumentation } from './types.ts'

/** What one attempt needs of its task: what its reports name, and the function to call. */
export interface Runnable extends Reported {
  readonly fn: TaskFunction
}

/**
 * `this` inside a task. The AbortController is made only when the task reads `signal` or the
 * attempt is aborted: on Node 20 it costs more than a no-op task itself.
 */
export class Attempt implements TaskContext {
  // Declared, not class fields: as ES2022 fields each would be defined once more before the constructor
  // assigns it, and an attempt is made per task run.
  declare readonly task: Runnable
  declare readonly attempt: number
  declare readonly env: unknown
  #controller: AbortController | undefined
  #reason: unknown

  constructor(task: Runnable, attempt: number, env: unknown) {
    this.task = task
    this.attempt = attempt
    this.env = env
  }

  get name(): string {
    return this.task.name
  }

  get id(): string {
    return this.task.id
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController()
      if (this.#reason !== undefined) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  /** Why the attempt was aborted (a timeout or a drain), once it was. */
  get reason(): unknown {
    return this.#reason
  }

  /** Aborts the attempt's signal with `reason`; only the first reason counts. */
  abort(reason: unknown): void {
    if (this.#reason !== undefined) return
    this.#reason = reason
    this.#controller?.abort(reason)
  }
}

/** The result of every attempt that succeeded: compare with `===`. */
export const SUCCESS: AttemptResult = { outcome: 'success' }

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as PromiseLike<unknown>).then === 'function'

/** An error a task raised because its attempt was aborted, rather than one of its own. */
const causedByAbort = (error: unknown, reason: unknown): boolean =>
  error === reason || (error as { cause?: unknown } | null)?.cause === reason || (error instanceof Error && error.name === 'AbortError')

/**
 * Runs one attempt: its outcome, never a rejection. A task that returns without a promise is
 * done at once; a promise races the timeout, which aborts the attempt and moves on.
 */
export const runAttempt = (context: Attempt, timeout: number | false): AttemptResult | Promise<AttemptResult> => {
  const { task } = context
  let result: unknown
  try {
    // `call` without arguments: on Node 20 `apply` with an empty array costs more than a no-op task.
    result = task.args.length === 0 ? task.fn.call(context) : task.fn.apply(context, task.args as unknown[])
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
        const error = new TaskTimeoutError(task.name, timeout)
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
          console.error(`[background-tasks] task "${task.name}" failed after it had timed out:`, error)
        }
        resolve({ outcome: 'error', error })
      },
    )
  })
}

/**
 * The message of one attempt. `id` is read when asked: a task's id is a UUID made when first read,
 * which costs more than the rest of the attempt's bookkeeping.
 */
class Report implements TaskChannelMessage {
  readonly name: string
  readonly attempt: number
  readonly args: readonly unknown[]
  outcome?: AttemptResult['outcome']
  error?: unknown
  readonly #context: Attempt

  constructor(
    context: Attempt,
    readonly origin: unknown,
    readonly delivery: TaskDelivery | undefined,
  ) {
    this.#context = context
    this.name = context.name
    this.attempt = context.attempt
    this.args = context.task.args
  }

  get id(): string {
    return this.#context.id
  }

  get abortReason(): unknown {
    return this.#context.reason
  }
}

/**
 * Runs one attempt as `runAttempt()` does; inside the instrumentation's `attempt` and published on
 * the tracing channel when either is there. Without both, it is `runAttempt()` and one check.
 */
export const observeAttempt = (
  context: Attempt,
  timeout: number | false,
  instrumentation: TaskInstrumentation | undefined,
  origin: unknown,
  delivery?: TaskDelivery,
): AttemptResult | Promise<AttemptResult> => {
  const wrapper = instrumentation?.attempt
  const tracing = activeChannel()
  if (!wrapper && !tracing) return runAttempt(context, timeout)
  const message = new Report(context, origin, delivery)
  if (!wrapper) return runPublished(context, timeout, tracing, message)
  // `run` runs the attempt once: called here if the wrapper threw first or never called it.
  let result: AttemptResult | Promise<AttemptResult> | undefined
  const run = (): AttemptResult | Promise<AttemptResult> => (result ??= runPublished(context, timeout, tracing, message))
  invoke('attempt()', wrapper, instrumentation as TaskInstrumentation, message, run)
  return run()
}

const runPublished = (
  context: Attempt,
  timeout: number | false,
  tracing: ReturnType<typeof activeChannel>,
  message: Report,
): AttemptResult | Promise<AttemptResult> =>
  tracing ? publishAttempt(tracing, message, () => runAttempt(context, timeout)) : runAttempt(context, timeout)
