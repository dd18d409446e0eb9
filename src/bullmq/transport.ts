import type { JobsOptions } from 'bullmq'
import { GroupCommit } from '../durable/group-commit.ts'
import { attemptsFor } from '../retry.ts'
import type { TaskMessage, TaskOptions, TaskTransport } from '../types.ts'
import { checkBoolean, checkOptionsObject, describeValue } from '../validate.ts'

/** The backoff type of jobs sent here: the worker computes the delay from the task's own `retryDelay`. */
export const BACKOFF_TYPE = 'hono-background-tasks'

/** The part of a BullMQ `Queue` the transport uses. */
export interface JobQueue {
  readonly name: string
  add(name: string, data: TaskMessage, opts?: JobsOptions): Promise<unknown>
  /** Used when present (a BullMQ `Queue` has it): the jobs of concurrent requests go in one round trip. */
  addBulk?(jobs: BulkJob[]): Promise<unknown>
}

/** One job of an `addBulk`. */
interface BulkJob {
  name: string
  data: TaskMessage
  opts?: JobsOptions
}

/** The most jobs one `addBulk` takes from concurrent requests. */
const BULK_LIMIT = 1000

/** Options of `bullmqQueue()`. */
export interface BullmqQueueOptions {
  /**
   * Options for every job, such as `priority` or how long finished jobs are kept. `jobId`,
   * `attempts` and `backoff` come from the task and cannot be set here. Completed jobs are kept a
   * day by default: while a job is kept, a second send with its id is dropped (BullMQ deduplicates
   * by `jobId`), so a repeated send runs once.
   * @default { removeOnComplete: { age: 86_400 } }
   */
  jobOptions?: Omit<JobsOptions, 'jobId' | 'attempts' | 'backoff'>
  /**
   * Add the jobs before the middleware returns the response, so that a client that has its
   * response knows the work is in Redis, and a web process killed right after responding loses
   * nothing. With `false`, they are added after the response, like `cloudflareQueue()` does.
   * @default true
   */
  beforeResponse?: boolean
}

const DEFAULT_JOB_OPTIONS: Omit<JobsOptions, 'jobId' | 'attempts' | 'backoff'> = Object.freeze({ removeOnComplete: { age: 86_400 } })

/** The job options of one task: its id, and its own `retries` as attempts with the worker's backoff. */
export const jobOptionsFor = (message: TaskMessage, options: Readonly<TaskOptions> | undefined, base: JobsOptions): JobsOptions => {
  const attempts = attemptsFor(options?.retries)
  const own: JobsOptions = attempts > 1 ? { jobId: message.id, attempts, backoff: { type: BACKOFF_TYPE } } : { jobId: message.id, attempts }
  // Not `{ ...base, ... }`: on Node 20 that spread costs about 2 µs per job, Object.assign a tenth of it (bench/engines.mjs).
  return Object.assign({}, base, own)
}

/**
 * Sends durable tasks to BullMQ: one job per task on the `Queue` given, named after the task, with
 * the task message `{ task, args, id, enqueuedAt }` as its data and the task's id as its `jobId`.
 * A task's own `retries` become the job's `attempts`, and its `retryDelay` the backoff that
 * `bullmqWorker()` computes. The jobs of concurrent requests share one `addBulk` round trip: one
 * goes out at once when none is in flight, and those that arrive meanwhile go together in the
 * next. For Node and Bun.
 * @example
 * import { Queue } from 'bullmq'
 * import { bullmqQueue } from 'hono-background-tasks/bullmq'
 *
 * const queue = new Queue('tasks', { connection: { host: 'localhost', port: 6379 } })
 * app.use(backgroundTasks({ transport: bullmqQueue(queue) }))
 */
export const bullmqQueue = (queue: JobQueue, options: BullmqQueueOptions = {}): TaskTransport => {
  const api = 'bullmqQueue'
  if (typeof (queue as JobQueue | null)?.add !== 'function') {
    throw new TypeError(`${api}: expected a BullMQ Queue (\`new Queue(name, { connection })\`), got ${describeValue(queue)}`)
  }
  checkOptionsObject(api, options, ['jobOptions', 'beforeResponse'])
  const { jobOptions = DEFAULT_JOB_OPTIONS, beforeResponse = true } = options
  if (typeof jobOptions !== 'object' || jobOptions === null) {
    throw new TypeError(`${api}: expected \`jobOptions\` to be an object of BullMQ job options, got ${describeValue(jobOptions)}`)
  }
  for (const key of ['jobId', 'attempts', 'backoff']) {
    if (key in jobOptions) {
      throw new TypeError(
        `${api}: \`jobOptions.${key}\` cannot be set here; it comes from the task (its id, \`retries\` and \`retryDelay\`)`,
      )
    }
  }
  checkBoolean(api, 'beforeResponse', beforeResponse)
  const addBulk = queue.addBulk?.bind(queue)
  const bulk = addBulk
    ? new GroupCommit<BulkJob>(async (jobs) => {
        await addBulk(jobs)
        return undefined
      }, BULK_LIMIT)
    : undefined
  return {
    system: 'bullmq',
    destination: queue.name,
    beforeResponse,
    send: (messages, _c, taskOptions) => {
      const jobs = messages.map((message, i) => ({
        name: message.task,
        data: message,
        opts: jobOptionsFor(message, taskOptions?.[i], jobOptions),
      }))
      return bulk ? bulk.send(jobs) : Promise.allSettled(jobs.map((job) => queue.add(job.name, job.data, job.opts)))
    },
  }
}
