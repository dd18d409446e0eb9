import type { Attempt } from '../attempt.ts'
import { DEADLINE, Deadline } from '../deadline.ts'

/**
 * The reason a running task's signal is aborted when a worker's `stop()` reaches its deadline.
 * @example
 * this.signal.addEventListener('abort', () => {
 *   if (this.signal.reason instanceof WorkerStopTimeoutError) console.log(`${this.id} goes back to the queue`)
 * })
 */
export class WorkerStopTimeoutError extends Error {
  override name = 'WorkerStopTimeoutError'

  constructor(
    /** The task's name. */
    readonly task: string,
  ) {
    super(`task "${task}" was still running when stop() reached its deadline; its job goes back to the queue for another worker`)
  }
}

/** What a worker's `stop()` saw, by task name. */
export interface WorkerStopResult {
  /** Tasks whose job ended (succeeded, or failed and was reported) during the stop. */
  readonly finished: string[]
  /** Tasks still running at the deadline: their signals were aborted and their jobs handed back to the queue. */
  readonly unfinished: string[]
}

/** What `RunningJobs.watch()` resolves with once `stop()` gives up on the job. */
export const ABANDONED = Symbol('abandoned')

interface Running {
  readonly name: string
  readonly context: Attempt
  readonly abandon: () => void
}

/**
 * The jobs a `pgBossWorker()` is running, as its `stop()` needs them: the handler reports to it,
 * and only `stop()` gives up on jobs.
 */
export class RunningJobs {
  readonly #running = new Set<Running>()
  /** Tasks whose job ended since `stop()` started; nothing is kept before that. */
  #finished: string[] | undefined
  #stopping: Promise<WorkerStopResult> | undefined

  /** Waits for `result` unless `stop()` abandons the job first: then resolves with `ABANDONED`. */
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

  /** A job's task ended (succeeded, or failed and was reported). */
  ended(name: string): void {
    this.#finished?.push(name)
  }

  /**
   * Stops within `timeout`: `offWork` takes no new jobs and resolves once the running ones are
   * settled; at the deadline the running ones are aborted and abandoned, which settles them.
   * Later calls get the same result.
   */
  stop(offWork: () => Promise<void>, timeout: number | false): Promise<WorkerStopResult> {
    this.#stopping ??= (async () => {
      const finished: string[] = []
      this.#finished = finished
      const stopping = offWork().catch((error: unknown) =>
        console.error('[background-tasks] stop(): stopping the pg-boss worker failed:', error),
      )
      const deadline = new Deadline(timeout)
      const unfinished: string[] = []
      if ((await deadline.race(stopping)) === DEADLINE) {
        for (const running of [...this.#running]) {
          unfinished.push(running.name)
          running.context.abort(new WorkerStopTimeoutError(running.name))
          running.abandon()
        }
        await stopping
      }
      deadline.clear()
      return { finished, unfinished }
    })()
    return this.#stopping
  }
}
