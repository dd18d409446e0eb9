import type { Worker } from 'bullmq'
import type { Attempt } from '../attempt.ts'
import { DEADLINE, Deadline } from '../deadline.ts'
import { checkOptionsObject, checkTimeout, describeValue } from '../validate.ts'

/** The reason a running task's signal is aborted when `closeWorker()` reaches its deadline. */
export class WorkerCloseTimeoutError extends Error {
  override name = 'WorkerCloseTimeoutError'

  constructor(
    /** The task's name. */
    readonly task: string,
  ) {
    super(`task "${task}" was still running when closeWorker() reached its deadline; another worker takes it once its lock expires`)
  }
}

/** What `closeWorker()` saw, by task name. */
export interface WorkerCloseResult {
  /** Tasks whose job ended (succeeded, or failed and was reported) during the close. */
  readonly finished: string[]
  /** Tasks still running at the deadline: their signals were aborted and their jobs left to another worker. */
  readonly unfinished: string[]
}

/** Options of `closeWorker()`. */
export interface CloseWorkerOptions {
  /** Milliseconds to let running jobs finish, or `false` to wait for them. @default 8_000 */
  timeout?: number | false
}

/** What `running.abandoned` resolves with once `closeWorker()` gives up on the job. */
export const ABANDONED = Symbol('abandoned')

/** One job a worker is running, until it settles or is abandoned. */
interface Running {
  readonly name: string
  readonly context: Attempt
  readonly abandon: () => void
}

/**
 * The jobs a `bullmqWorker()` runs, as `closeWorker()` needs them: the ones running now, the tasks
 * that ended since the close began, and the queues the worker opened. The processor reports to it;
 * only `closeWorker()` gives up on jobs.
 */
export class WorkerJobs {
  readonly #running = new Set<Running>()
  /** Tasks whose job ended since `closeWorker()` started; nothing is kept before that. */
  #finished: string[] | undefined
  readonly #queues: { close(): Promise<void> }[] = []
  #closing: Promise<WorkerCloseResult> | undefined

  /** A queue the worker opened, closed with it. */
  addQueue(queue: { close(): Promise<void> }): void {
    this.#queues.push(queue)
  }

  /**
   * Waits for `result` unless `closeWorker()` abandons the job first: then resolves with
   * `ABANDONED`, and the job is left to BullMQ's stalled-job recovery.
   */
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

  /** Closes `worker` within `timeout`; later calls get the same result. */
  close(worker: Worker, timeout: number | false): Promise<WorkerCloseResult> {
    this.#closing ??= (async () => {
      const finished: string[] = []
      this.#finished = finished
      const closing = worker
        .close()
        .catch((error: unknown) => console.error('[background-tasks] closeWorker: closing the worker failed:', error))
      const deadline = new Deadline(timeout)
      const unfinished: string[] = []
      if ((await deadline.race(closing)) === DEADLINE) {
        for (const running of [...this.#running]) {
          unfinished.push(running.name)
          running.context.abort(new WorkerCloseTimeoutError(running.name))
          running.abandon()
        }
        await closing
      }
      deadline.clear()
      await Promise.all(this.#queues.map((queue) => queue.close().catch(() => {})))
      return { finished, unfinished }
    })()
    return this.#closing
  }
}

const workers = new WeakMap<object, WorkerJobs>()

/** Records the jobs of a worker that `bullmqWorker()` made, for `closeWorker()` to find. */
export const trackJobs = (worker: Worker, jobs: WorkerJobs): void => {
  workers.set(worker, jobs)
}

/**
 * Closes a worker from `bullmqWorker()` within a deadline (BullMQ's own `close()` has none): it
 * takes no new jobs and lets the running ones finish. At the deadline it aborts the signals of
 * those still running, names them, and leaves their jobs active in Redis: once their lock expires,
 * BullMQ's stalled-job recovery gives them to another worker (`this.attempt` then counts that
 * delivery). Later calls return the same result.
 * @example
 * process.once('SIGTERM', async () => {
 *   const { unfinished } = await closeWorker(worker, { timeout: 8_000 })
 *   if (unfinished.length > 0) console.error(`left to another worker: ${unfinished.join(', ')}`)
 *   process.exit(unfinished.length > 0 ? 1 : 0)
 * })
 */
export const closeWorker = (worker: Worker, options: CloseWorkerOptions = {}): Promise<WorkerCloseResult> => {
  const api = 'closeWorker'
  const jobs = workers.get(worker)
  if (!jobs) throw new TypeError(`${api}: expected a worker made by bullmqWorker(), got ${describeValue(worker)}`)
  checkOptionsObject(api, options, ['timeout'])
  const { timeout = 8_000 } = options
  checkTimeout(api, 'timeout', timeout)
  return jobs.close(worker, timeout)
}
