import type { Worker } from 'bullmq'
import { RunningTasks, type WorkerStopResult, WorkerStopTimeoutError } from '../durable/running.ts'
import { checkOptionsObject, checkTimeout, describeValue } from '../validate.ts'

/**
 * The reason a running task's signal is aborted when `closeWorker()` reaches its deadline: a
 * `WorkerStopTimeoutError`, as on the other engines, under the name BullMQ users know.
 */
export class WorkerCloseTimeoutError extends WorkerStopTimeoutError {
  override name = 'WorkerCloseTimeoutError'

  constructor(task: string) {
    super(task, 'closeWorker()', 'another worker takes it once its lock expires')
  }
}

/** What `closeWorker()` saw, by task name: a `WorkerStopResult`, as on the other engines. */
export type WorkerCloseResult = WorkerStopResult

/** Options of `closeWorker()`. */
export interface CloseWorkerOptions {
  /** Milliseconds to let running jobs finish, or `false` to wait for them. @default 8_000 */
  timeout?: number | false
}

/**
 * The jobs a `bullmqWorker()` runs, as `closeWorker()` needs them: the running tasks, and the
 * queues the worker opened. The processor reports to it; only `closeWorker()` gives up on jobs.
 */
export class WorkerJobs extends RunningTasks {
  readonly #queues: { close(): Promise<void> }[] = []
  #closing: Promise<WorkerCloseResult> | undefined

  /** A queue the worker opened, closed with it. */
  addQueue(queue: { close(): Promise<void> }): void {
    this.#queues.push(queue)
  }

  /** Closes `worker` within `timeout`; later calls get the same result. */
  close(worker: Worker, timeout: number | false): Promise<WorkerCloseResult> {
    this.#closing ??= (async () => {
      const closing = worker
        .close()
        .catch((error: unknown) => console.error('[background-tasks] closeWorker: closing the worker failed:', error))
      // Abandoned jobs stay active in Redis: BullMQ's stalled-job recovery gives them to another worker.
      const result = await this.stop(closing, timeout, (task) => new WorkerCloseTimeoutError(task))
      await closing
      await Promise.all(this.#queues.map((queue) => queue.close().catch(() => {})))
      return result
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
