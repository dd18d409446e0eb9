import type { Attempt } from '../attempt.ts'
import { DEADLINE, Deadline } from '../deadline.ts'

/**
 * The reason a running task's signal is aborted when a worker's stop reaches its deadline
 * (`closeWorker()` on BullMQ, `stop()` on pg-boss and Deno KV). The message says what becomes of
 * the task's job.
 * @example
 * this.signal.addEventListener('abort', () => {
 *   if (this.signal.reason instanceof WorkerStopTimeoutError) console.log(`${this.id} is left to another worker`)
 * })
 */
export class WorkerStopTimeoutError extends Error {
  override name = 'WorkerStopTimeoutError'

  constructor(
    /** The task's name. */
    readonly task: string,
    /** The call that stopped, such as `stop()`. */
    stop = 'stop()',
    /** What becomes of the task's job. */
    then = 'another worker runs it',
  ) {
    super(`task "${task}" was still running when ${stop} reached its deadline; ${then}`)
  }
}

/** What a worker's stop saw, by task name. */
export interface WorkerStopResult {
  /** Tasks whose job ended (succeeded, or failed and was reported) during the stop. */
  readonly finished: string[]
  /** Tasks still running at the deadline: their signals were aborted and their jobs left to another worker. */
  readonly unfinished: string[]
}

/** What `RunningTasks.watch()` resolves with once the stop gives up on the task. */
export const ABANDONED = Symbol('abandoned')

/** One task a worker is running, until it settles or is abandoned. */
interface Running {
  readonly name: string
  readonly context: Attempt
  readonly abandon: () => void
}

/**
 * What every durable worker (BullMQ, pg-boss, Deno KV) tracks for its stop: the tasks running now,
 * the handlers in progress, and the tasks that ended since the stop began. The worker's handler
 * reports to it; only `stop()` gives up on tasks.
 */
export class RunningTasks {
  readonly #running = new Set<Running>()
  #handlers = 0
  #idle: (() => void) | undefined
  /** Tasks that ended since `stop()` started; nothing is kept before that. */
  #finished: string[] | undefined
  #gaveUp = false

  /** Whether `stop()` has begun. */
  get stopping(): boolean {
    return this.#finished !== undefined
  }

  /** Whether `stop()` reached its deadline: a delivery that has not started its task must not start it now. */
  get gaveUp(): boolean {
    return this.#gaveUp
  }

  /** Runs one handler, counted until it returns or throws, for `idle()`. */
  async handle<T>(handler: () => Promise<T>): Promise<T> {
    this.#handlers++
    try {
      return await handler()
    } finally {
      this.#handlers--
      if (this.#handlers === 0) this.#idle?.()
    }
  }

  /** Resolves once no handler given to `handle()` is in progress: for an engine that cannot wait for its own. */
  idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#idle = resolve
      if (this.#handlers === 0) resolve()
    })
  }

  /** Waits for `result` unless `stop()` abandons the task first: then resolves with `ABANDONED`. */
  async watch<T>(name: string, context: Attempt, result: Promise<T>): Promise<T | typeof ABANDONED> {
    let abandon = (): void => {}
    const abandoned = new Promise<typeof ABANDONED>((resolve) => {
      abandon = () => resolve(ABANDONED)
    })
    const running: Running = { name, context, abandon }
    this.#running.add(running)
    try {
      return await Promise.race([result, abandoned])
    } finally {
      this.#running.delete(running)
    }
  }

  /** A task's job ended (succeeded, or failed and was reported). */
  ended(name: string): void {
    this.#finished?.push(name)
  }

  /**
   * Waits for `settled` (the engine's own wait for its running jobs, or `idle()`) within
   * `timeout`. At the deadline, aborts the signals of the tasks still running with
   * `reasonFor(task)`, calls `onAbandon` for each, and abandons them.
   */
  async stop(
    settled: Promise<unknown>,
    timeout: number | false,
    reasonFor: (task: string) => Error,
    onAbandon?: (context: Attempt, reason: Error) => Promise<void>,
  ): Promise<WorkerStopResult> {
    const finished: string[] = []
    this.#finished = finished
    const unfinished: string[] = []
    const deadline = new Deadline(timeout)
    if ((await deadline.race(settled)) === DEADLINE) {
      this.#gaveUp = true
      for (const running of [...this.#running]) {
        unfinished.push(running.name)
        const reason = reasonFor(running.name)
        running.context.abort(reason)
        await onAbandon?.(running.context, reason)
        running.abandon()
      }
    }
    deadline.clear()
    return { finished, unfinished }
  }
}
