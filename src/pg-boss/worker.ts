import type { Job, JobResult, PgBoss, WorkOptions } from 'pg-boss'
import { asError, DeliveredTasks, logDeliveryError } from '../durable/deliver.ts'
import { ABANDONED, RunningTasks, type WorkerStopResult, WorkerStopTimeoutError } from '../durable/running.ts'
import { callHook } from '../reports.ts'
import type { Task, TaskInfo, TaskInstrumentation, TaskMessage } from '../types.ts'
import {
  checkCount,
  checkFunction,
  checkInstrumentation,
  checkOptionsObject,
  checkQueueNames,
  checkTimeout,
  describeValue,
} from '../validate.ts'
import { type DeadLetterReason, errorOf, type FailureOutput } from './dead-letter.ts'
import { ensureQueue } from './queue.ts'
import type { PgBossJobData } from './transport.ts'

/** The part of a `PgBoss` the worker uses. */
export type WorkerBoss = Pick<PgBoss, 'work' | 'offWork' | 'createQueue' | 'getQueue'>

/** pg-boss `work()` options the worker decides. */
const WORKER_DECIDES = ['perJobResults', 'includeMetadata', 'transactional', 'transactionTimeoutSeconds'] as const

/** Options of `pgBossWorker()`. */
export interface PgBossWorkerOptions<Env = unknown> {
  /** A started `PgBoss`; the worker does not stop it. */
  boss: WorkerBoss
  /** The queue to work on: `pgBossQueue()`'s `queue`. Created if it does not exist. @default 'tasks' */
  queue?: string
  /** The durable tasks (`defineTask()`) this worker runs, looked up by name. */
  tasks: readonly Task[]
  /**
   * Where jobs end that failed for good, name a task this worker does not know (after their
   * retries), or are not task messages; the queue's pg-boss `deadLetter`. Nothing works on it:
   * read it with `readDeadLetters()`, run a job again with `boss.redrive()`.
   * @default `${queue}-dead`
   */
  deadLetterQueue?: string
  /** `this.env` in the tasks. @default process.env */
  env?: Env
  /**
   * Milliseconds one delivery of a task may run before its signal is aborted and it counts as a
   * failed attempt, or `false`. A task's own `timeout` wins. pg-boss also fails a delivery that
   * outlives its job's `expireInSeconds` (15 minutes by default).
   * @default false
   */
  timeout?: number | false
  /**
   * Called for every delivery that failed, with the task and the job, before it is retried or
   * dead-lettered.
   * @default logs the task, its id, the attempt and the error with `console.error`
   */
  onError?: (error: unknown, task: TaskInfo, job: Job<TaskMessage>) => void | Promise<void>
  /**
   * More pg-boss `work()` options: `pollingIntervalSeconds` (how long an idle worker waits before
   * it looks again; 2 s by default), `localConcurrency` (how many jobs run at once, each fetched on
   * its own), `batchSize` (jobs fetched together; they run at once, and the next fetch waits for
   * all of them), ... `perJobResults`, `includeMetadata` and `transactional` are the worker's own.
   */
  work?: Omit<WorkOptions, (typeof WORKER_DECIDES)[number]>
  /**
   * Wraps each job's run: `taskTracing()` from `hono-background-tasks/otel` makes it a CONSUMER
   * span that links to the span that queued the job.
   */
  instrumentation?: TaskInstrumentation
}

/** Options of a worker's `stop()`. */
export interface WorkerStopOptions {
  /** Milliseconds to let running jobs finish, or `false` to wait for them. @default 8_000 */
  timeout?: number | false
}

/** A running `pgBossWorker()`. */
export interface PgBossWorker {
  /** The queue it works on. */
  readonly queue: string
  /** pg-boss's id of its `work()`. */
  readonly id: string
  /**
   * Takes no new jobs and lets the running ones finish until the deadline; then aborts the
   * signals of those still running, names them, and hands their jobs back to the queue, where
   * another worker takes them after their retry delay (`this.attempt` counts that delivery).
   * Does not stop `boss`. Later calls return the same result.
   */
  stop(options?: WorkerStopOptions): Promise<WorkerStopResult>
}

const API = 'pgBossWorker'

const KNOWN = ['boss', 'queue', 'tasks', 'deadLetterQueue', 'env', 'timeout', 'onError', 'work', 'instrumentation'] as const

/** Checks `pgBossWorker()`'s options in the one-line style and fills in the defaults. */
const resolveWorkerOptions = <Env>(options: PgBossWorkerOptions<Env>) => {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${API}: expected an options object, got ${describeValue(options)}`)
  }
  checkOptionsObject(API, options, KNOWN)
  const {
    boss,
    queue = 'tasks',
    tasks,
    env = (globalThis as { process?: { env?: unknown } }).process?.env as Env,
    timeout = false,
    onError = logDeliveryError,
    work = {},
    instrumentation,
  } = options
  const { deadLetterQueue = `${queue}-dead` } = options
  if (typeof (boss as WorkerBoss | null)?.work !== 'function' || typeof boss.offWork !== 'function') {
    throw new TypeError(`${API}: expected \`boss\` to be a started PgBoss instance, got ${describeValue(boss)}`)
  }
  checkQueueNames(API, queue, deadLetterQueue)
  const delivered = new DeliveredTasks(API, tasks, 'worker')
  checkTimeout(API, 'timeout', timeout)
  checkFunction(API, 'onError', onError)
  checkInstrumentation(API, 'instrumentation', instrumentation)
  if (typeof work !== 'object' || work === null || Array.isArray(work)) {
    throw new TypeError(`${API}: expected \`work\` to be an object of pg-boss work() options, got ${describeValue(work)}`)
  }
  for (const key of WORKER_DECIDES) {
    if (key in work) throw new TypeError(`${API}: \`work.${key}\` cannot be set here; the worker settles each job itself`)
  }
  if (work.localConcurrency !== undefined) checkCount(API, 'work.localConcurrency', work.localConcurrency, 1)
  if (work.batchSize !== undefined) checkCount(API, 'work.batchSize', work.batchSize, 1)
  return { boss, queue, delivered, deadLetterQueue, env, timeout, onError, work, instrumentation }
}

/**
 * A pg-boss worker for durable tasks: runs each job's task by name from the same `defineTask()`
 * definitions the web side uses, with `this.id` (the task's id), `this.attempt` (the delivery
 * count), `this.env` and a `signal` aborted on the task's timeout, when pg-boss gives up on the
 * delivery, and at `stop()`'s deadline. A failure is retried as the task's `retries` and
 * `retryDelay` say. A job that failed for good, names a task this worker does not know (after its
 * retries: a newer worker may know it), or is not a task message (at once) goes to the dead-letter
 * queue with the reason and its last error; nothing runs by guesswork.
 *
 * A worker that dies mid-job (SIGKILL, a crash, a lost machine) stops the job's heartbeat, and
 * pg-boss hands the job to another worker once the heartbeat is 30 s old, at its next monitor pass
 * (every 60 s): the job runs again, with the next `this.attempt`. That delivery counts against the
 * task's attempts, but every job has one delivery to spare, so a task with no `retries` still
 * gets its run. Resolves once the queue exists and the worker is polling. For Node (pg-boss 12
 * needs Node 22.12 or later).
 * @example
 * import { PgBoss } from 'pg-boss'
 * import { pgBossWorker } from 'hono-background-tasks/pg-boss'
 *
 * const boss = new PgBoss(process.env.DATABASE_URL!)
 * await boss.start()
 * const worker = await pgBossWorker({ boss, tasks: [sendWelcomeEmail], work: { localConcurrency: 5 } })
 * process.once('SIGTERM', async () => {
 *   const { unfinished } = await worker.stop({ timeout: 8_000 })
 *   await boss.stop()
 *   process.exit(unfinished.length > 0 ? 1 : 0)
 * })
 */
export const pgBossWorker = async <Env = unknown>(options: PgBossWorkerOptions<Env>): Promise<PgBossWorker> => {
  const { boss, queue, delivered, deadLetterQueue, env, timeout, onError, work, instrumentation } = resolveWorkerOptions(options)
  await ensureQueue(boss, queue, deadLetterQueue)
  const existing = await boss.getQueue(queue)
  if (existing?.deadLetter !== deadLetterQueue) {
    throw new Error(
      `${API}: queue "${queue}" sends its dead letters to ${existing?.deadLetter ? `"${existing.deadLetter}"` : 'no queue'}, not "${deadLetterQueue}"; pass that \`deadLetterQueue\`, or change the queue with boss.updateQueue()`,
    )
  }
  const running = new RunningTasks()
  let stopping: Promise<WorkerStopResult> | undefined

  const settle = (job: Job<unknown>, status: JobResult['status'], reason: FailureOutput['reason'], error: Error): JobResult => {
    const output: FailureOutput = { reason, error: errorOf(error), attempt: job.retryCount + 1 }
    return { id: job.id, status, output }
  }

  /** A failure that ends the job (its last delivery, or malformed) goes straight to the dead-letter queue. */
  const failed = (job: Job<unknown>, reason: DeadLetterReason, error: Error, final: boolean): JobResult => {
    if (final)
      console.error(`[background-tasks] job ${job.id} on queue "${queue}" moved to the dead-letter queue "${deadLetterQueue}" (${reason})`)
    return settle(job, final ? 'deadletter' : 'failed', reason, error)
  }

  const runJob = async (job: Job<unknown>): Promise<JobResult> => {
    const attempt = job.retryCount + 1
    // The job's retryLimit is the task's retries plus the spare delivery, which is kept for a worker that dies.
    // A job sent another way, whose data does not say its retries, is left to its retryLimit.
    const retries = (job.data as Partial<PgBossJobData> | null)?.retries
    const final = typeof retries === 'number' && attempt > retries
    const found = delivered.lookUp(job.data)
    if (!found.ok) {
      const error = new Error(`job ${job.id} on queue "${queue}" ${found.problem}; not run`)
      const malformed = found.reason === 'malformed'
      console.error(`[background-tasks] ${error.message}${malformed || final ? '' : `; retried (attempt ${attempt})`}`)
      return failed(job, found.reason, error, malformed || final)
    }
    const delivery = { system: 'pg-boss', queue, messageId: job.id, trace: found.message.trace }
    const { info, context, result } = delivered.run(found, attempt, env, timeout, instrumentation, delivery)
    // pg-boss aborts job.signal when it gives up on the delivery (expiry, a lost heartbeat): the task should stop too.
    const onAbort = () => context.abort(job.signal.reason)
    job.signal.addEventListener('abort', onAbort, { once: true })
    try {
      const settled = result instanceof Promise ? await running.watch(info.name, context, result) : result
      if (settled === ABANDONED) {
        // Failed without a task error: pg-boss puts it back for another worker after its retry delay.
        return settle(job, 'failed', 'stopped', new Error(`task "${info.name}" was left to another worker by stop()`))
      }
      if (settled.outcome === 'success') {
        running.ended(info.name)
        return { id: job.id, status: 'completed' }
      }
      await callHook(onError, 'onError', settled.error, info, job as Job<TaskMessage>)
      running.ended(info.name)
      return failed(job, 'failed', asError(settled.error), final)
    } finally {
      job.signal.removeEventListener('abort', onAbort)
    }
  }

  // No includeMetadata: it costs pg-boss a wider row per job, and the job's data says its retries.
  const id = await boss.work(queue, { ...work, perJobResults: true }, (jobs) => Promise.all(jobs.map(runJob)))
  return {
    queue,
    id,
    stop(stopOptions: WorkerStopOptions = {}) {
      const api = `${API}().stop`
      checkOptionsObject(api, stopOptions, ['timeout'])
      const { timeout: stopTimeout = 8_000 } = stopOptions
      checkTimeout(api, 'timeout', stopTimeout)
      stopping ??= (async () => {
        const stopped = boss
          .offWork(queue, { id, wait: true })
          .catch((error: unknown) => console.error('[background-tasks] stop(): stopping the pg-boss worker failed:', error))
        const result = await running.stop(
          stopped,
          stopTimeout,
          (task) => new WorkerStopTimeoutError(task, 'stop()', 'its job goes back to the queue for another worker'),
        )
        // Abandoned jobs were failed without a task error: pg-boss puts them back for another worker.
        await stopped
        return result
      })()
      return stopping
    },
  }
}
