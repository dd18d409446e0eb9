import type { JobInsert, PgBoss } from 'pg-boss'
import { GroupCommit } from '../durable/group-commit.ts'
import type { TaskMessage, TaskOptions, TaskSendResult, TaskTransport } from '../types.ts'
import { checkBoolean, checkOptionsObject, checkQueueNames, describeValue } from '../validate.ts'
import { ensureQueue, QUEUE_SETTINGS } from './queue.ts'

/** The part of a `PgBoss` the transport uses. */
export type JobBoss = Pick<PgBoss, 'insert' | 'createQueue' | 'getQueue'>

/** Job options that come from the task and cannot be set in `jobOptions`. */
const FROM_THE_TASK = ['id', 'data', 'retryLimit', 'retryDelay', 'retryBackoff', 'retryDelayMax', 'deadLetter'] as const

/** A job's data: the task message, and the task's own retries (the job's `retryLimit` is one more: the spare delivery). */
export type PgBossJobData = TaskMessage & { readonly retries: number }

/** What `jobOptions` may set: pg-boss job options other than those the task decides. */
export type PgBossJobOptions = Omit<JobInsert, (typeof FROM_THE_TASK)[number]>

/** Options of `pgBossQueue()`. */
export interface PgBossQueueOptions {
  /** The pg-boss queue, created on first use (with its dead-letter queue) if it does not exist. @default 'tasks' */
  queue?: string
  /** The dead-letter queue the queue is created with: the same as the worker's `deadLetterQueue`. @default `${queue}-dead` */
  deadLetterQueue?: string
  /**
   * Options for every job, such as `priority`, `expireInSeconds` (how long one delivery may run,
   * 15 minutes by default), `heartbeatSeconds` or `deleteAfterSeconds`. `id`, `data`, the retry
   * options and `deadLetter` come from the task and the queue and cannot be set here.
   * @default { heartbeatSeconds: 30 }: a worker that dies mid-job is noticed within about a minute
   */
  jobOptions?: PgBossJobOptions
  /**
   * Insert the jobs before the middleware returns the response, so that a client that has its
   * response knows the work is in Postgres, and a web process killed right after responding loses
   * nothing. With `false`, they are inserted after the response.
   * @default true
   */
  beforeResponse?: boolean
}

const API = 'pgBossQueue'

const ONE_HOUR = 3600

/** The most jobs one insert takes from concurrent requests. */
const INSERT_LIMIT = 1000

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * A task's retries as pg-boss job options. One delivery more than the task's own attempts: a
 * worker that dies mid-job costs a delivery (pg-boss fails the job when its heartbeat stops), and
 * the spare keeps a task with no `retries` from ending in the dead-letter queue unrun. The worker
 * dead-letters a task failure itself once the task's attempts are spent. pg-boss counts delays in
 * whole seconds: a `retryDelay` in milliseconds is rounded up; without one, the delay starts at
 * 1 s and doubles up to an hour, with pg-boss's jitter (up to twice that).
 */
export const retryOptionsFor = (
  options: Readonly<TaskOptions> | undefined,
): Pick<JobInsert, 'retryLimit' | 'retryDelay' | 'retryBackoff' | 'retryDelayMax'> => {
  const retryLimit = (options?.retries ?? 0) + 1
  const delay = options?.retryDelay
  if (typeof delay === 'number') return { retryLimit, retryDelay: Math.ceil(delay / 1000), retryBackoff: false }
  return { retryLimit, retryDelay: 1, retryBackoff: true, retryDelayMax: ONE_HOUR }
}

/**
 * Sends durable tasks to pg-boss (PostgreSQL): one job per task on one queue, with the task
 * message `{ task, args, id, enqueuedAt }` as its data and the task's id as the job's id, so a
 * repeated send is one job (pg-boss skips an id it has; a completed job is kept 7 days by
 * default). A task's `retries` and `retryDelay` (in milliseconds) become the job's retries. Sends
 * from concurrent requests that arrive while an insert is in flight go together in the next one:
 * one statement per round trip. For Node (pg-boss 12 needs Node 22.12 or later).
 * @example
 * import { PgBoss } from 'pg-boss'
 * import { pgBossQueue } from 'hono-background-tasks/pg-boss'
 *
 * const boss = new PgBoss(process.env.DATABASE_URL!)
 * await boss.start()
 * app.use(backgroundTasks({ transport: pgBossQueue(boss) }))
 */
export const pgBossQueue = (boss: JobBoss, options: PgBossQueueOptions = {}): TaskTransport => {
  if (typeof (boss as JobBoss | null)?.insert !== 'function' || typeof boss.createQueue !== 'function') {
    throw new TypeError(`${API}: expected a PgBoss instance (\`new PgBoss(connectionString)\`), got ${describeValue(boss)}`)
  }
  checkOptionsObject(API, options, ['queue', 'deadLetterQueue', 'jobOptions', 'beforeResponse'])
  const { queue = 'tasks', jobOptions = {}, beforeResponse = true } = options
  const { deadLetterQueue = `${queue}-dead` } = options
  checkQueueNames(API, queue, deadLetterQueue)
  if (typeof jobOptions !== 'object' || jobOptions === null || Array.isArray(jobOptions)) {
    throw new TypeError(`${API}: expected \`jobOptions\` to be an object of pg-boss job options, got ${describeValue(jobOptions)}`)
  }
  for (const key of FROM_THE_TASK) {
    if (key in jobOptions) {
      throw new TypeError(
        `${API}: \`jobOptions.${key}\` cannot be set here; it comes from the task (its id, arguments, \`retries\` and \`retryDelay\`) and the queue's dead-letter queue`,
      )
    }
  }
  checkBoolean(API, 'beforeResponse', beforeResponse)
  const base: PgBossJobOptions = { heartbeatSeconds: QUEUE_SETTINGS.heartbeatSeconds, ...jobOptions }
  const inserts = new GroupCommit<JobInsert>(async (jobs) => {
    await ensureQueue(boss, queue, deadLetterQueue)
    await boss.insert(queue, jobs)
  }, INSERT_LIMIT)
  return {
    system: 'pg-boss',
    destination: queue,
    beforeResponse,
    check(message, taskOptions) {
      if (typeof taskOptions.retryDelay === 'function') {
        throw new TypeError(
          `${API}: task "${message.task}" has a function \`retryDelay\`; pg-boss fixes a job's retry delay when it is inserted, so give it in milliseconds`,
        )
      }
    },
    async send(messages, _c, taskOptions) {
      const results: TaskSendResult[] = new Array(messages.length)
      const jobs: JobInsert[] = []
      const indexes: number[] = []
      for (const [i, message] of messages.entries()) {
        // One bad id would fail the whole statement, and with it the sends of other requests grouped into it.
        if (!UUID.test(message.id)) {
          const reason = new TypeError(`${API}: task "${message.task}" has the id ${describeValue(message.id)}; pg-boss job ids are UUIDs`)
          results[i] = { status: 'rejected', reason }
          continue
        }
        // The data carries the task's own retries: the worker dead-letters a task failure after them itself.
        const data: PgBossJobData = { ...message, retries: taskOptions?.[i]?.retries ?? 0 }
        jobs.push({ ...base, ...retryOptionsFor(taskOptions?.[i]), id: message.id, data })
        indexes.push(i)
      }
      if (jobs.length > 0) for (const [j, result] of (await inserts.send(jobs)).entries()) results[indexes[j]!] = result
      return results
    },
  }
}
