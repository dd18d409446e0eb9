import type { Attempt } from '../attempt.ts'
import { DEADLINE, Deadline } from '../deadline.ts'

/**
 * The reason a running task's signal is aborted when a Deno KV worker's `stop()` reaches its deadline.
 * @example
 * const syncAccount = defineTask('syncAccount', async function (this: TaskContext, id: string) {
 *   this.signal.addEventListener('abort', () => {
 *     if (this.signal.reason instanceof WorkerStopTimeoutError) console.log(`sync of ${id} cut off; it runs again`)
 *   })
 * })
 */
export class WorkerStopTimeoutError extends Error {
  override name = 'WorkerStopTimeoutError'

  constructor(
    /** The task's name. */
    readonly task: string,
  ) {
    super(
      `task "${task}" was still running when the Deno KV worker's stop() reached its deadline; Deno KV delivers it again once the worker's KV store is closed`,
    )
  }
}

/** What `stop()` saw, by task name. */
export interface WorkerStopResult {
  /** Tasks whose delivery ended (succeeded, or failed and was reported) during the stop. */
  readonly finished: string[]
  /** Tasks still running at the deadline: their signals were aborted and their messages left to Deno KV to deliver again. */
  readonly unfinished: string[]
}

/** What `watch()` resolves with once `stop()` gives up on a delivery. */
export const ABANDONED = Symbol('abandoned')

/** One task a worker is running, until it settles or is abandoned. */
interface Running {
  readonly name: string
  readonly context: Attempt
  readonly abandon: () => void
}

/**
 * The deliveries of one `denoKvWorker()`, as its `stop()` needs them: the handlers in progress,
 * the tasks running now, and the tasks that ended since the stop began. The queue handler reports
 * to it; only `stop()` gives up on tasks.
 */
export class Deliveries {
  readonly #running = new Set<Running>()
  #handlers = 0
  #idle: (() => void) | undefined
  /** Tasks whose delivery ended since `stop()` started; nothing is kept before that. */
  #finished: string[] | undefined
  #gaveUp = false

  /** Whether `stop()` has begun: a message delivered now is not run. */
  get stopping(): boolean {
    return this.#finished !== undefined
  }

  /** Whether `stop()` reached its deadline: a delivery that has not started its task must not start it now. */
  get gaveUp(): boolean {
    return this.#gaveUp
  }

  /** Runs one queue handler, counted until it returns or throws, so that `stop()` can wait for it. */
  async handle<T>(handler: () => Promise<T>): Promise<T> {
    this.#handlers++
    try {
      return await handler()
    } finally {
      this.#handlers--
      if (this.#handlers === 0) this.#idle?.()
    }
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

  /** A task's delivery ended (succeeded, or failed and was reported). */
  ended(name: string): void {
    this.#finished?.push(name)
  }

  /**
   * Lets the handlers in progress return within `timeout`. At the deadline, aborts the signals of
   * the tasks still running and abandons them, after `onAbandon` for each.
   */
  async stop(timeout: number | false, onAbandon: (context: Attempt, reason: Error) => Promise<void>): Promise<WorkerStopResult> {
    const finished: string[] = []
    this.#finished = finished
    const unfinished: string[] = []
    const idle = new Promise<void>((resolve) => {
      this.#idle = resolve
      if (this.#handlers === 0) resolve()
    })
    const deadline = new Deadline(timeout)
    if ((await deadline.race(idle)) === DEADLINE) {
      this.#gaveUp = true
      for (const running of [...this.#running]) {
        unfinished.push(running.name)
        const reason = new WorkerStopTimeoutError(running.name)
        running.context.abort(reason)
        await onAbandon(running.context, reason)
        running.abandon()
      }
    }
    deadline.clear()
    return { finished, unfinished }
  }
}
