import { type ConnectionOptions, type Job, Queue, UnrecoverableError, WaitingError, Worker, type WorkerOptions } from 'bullmq'
import { asError, DeliveredTasks, logDeliveryError } from '../durable/deliver.ts'
import { ABANDONED } from '../durable/running.ts'
import { callHook } from '../reports.ts'
import { defaultWorkerRetryDelay, isLastAttempt, type RetryDelay, retryDelayFor } from '../retry.ts'
import type { Task, TaskInfo, TaskInstrumentation, TaskMessage } from '../types.ts'
import {
  checkCount,
  checkFunction,
  checkInstrumentation,
  checkOptionsObject,
  checkQueueNames,
  checkRetryDelay,
  checkTimeout,
  describeValue,
} from '../validate.ts'
import { trackJobs, WorkerJobs } from './close.ts'
import { type DeadLetterReason, deadLetterOf } from './dead-letter.ts'
import { BACKOFF_TYPE } from './transport.ts'

/** Options of `bullmqWorker()`. */
export interface BullmqWorkerOptions<Env = unknown> {
  /** The name of the BullMQ queue to work on: the `Queue` given to `bullmqQueue()` on the web side. */
  queue: string
  /** How to reach Redis: an ioredis instance (`maxRetriesPerRequest: null`) or its options. */
  connection: ConnectionOptions
  /** The durable tasks (`defineTask()`) this worker runs, looked up by name. */
  tasks: readonly Task[]
  /**
   * The queue where jobs end that failed for good, name a task this worker does not know (after
   * their retries), or are not task messages. Nothing works on it: read it, then re-run with
   * `retryDeadLetter()`.
   * @default `${queue}-dead`
   */
  deadLetterQueue?: string
  /** `this.env` in the tasks. @default process.env */
  env?: Env
  /**
   * Milliseconds one delivery of a task may run before its signal is aborted and it counts as a
   * failed attempt, or `false`. A task's own `timeout` wins.
   * @default false
   */
  timeout?: number | false
  /**
   * The delay before retry `attempt` (2, 3, ...) of a task that has `retries` but no `retryDelay`.
   * @default (attempt) => 1000 * 2 ** (attempt - 2), at most an hour: 1 s, 2 s, 4 s, ...
   */
  retryDelay?: RetryDelay
  /**
   * Called for every delivery that failed, with the task and the job, before it is retried or
   * dead-lettered.
   * @default logs the task, its id, the attempt and the error with `console.error`
   */
  onError?: (error: unknown, task: TaskInfo, job: Job<TaskMessage>) => void | Promise<void>
  /**
   * More BullMQ worker options: `concurrency`, `lockDuration`, `stalledInterval`, ... A job whose
   * worker died is taken again by another worker once its lock (`lockDuration`, 30 s) has expired,
   * at the next stalled check (`stalledInterval`, 30 s).
   */
  worker?: Omit<WorkerOptions, 'connection' | 'autorun'>
  /**
   * Wraps each job's run: `taskTracing()` from `hono-background-tasks/otel` makes it a CONSUMER
   * span that links to the span that queued the job.
   */
  instrumentation?: TaskInstrumentation
}

const API = 'bullmqWorker'

const KNOWN = [
  'queue',
  'connection',
  'tasks',
  'deadLetterQueue',
  'env',
  'timeout',
  'retryDelay',
  'onError',
  'worker',
  'instrumentation',
] as const

/** Whether this failure is the job's last: BullMQ will not retry it. */
const isFinal = (job: Job, error: Error): boolean =>
  error instanceof UnrecoverableError || isLastAttempt(job.attemptsMade, job.opts.attempts)

/** Checks `bullmqWorker()`'s options in the one-line style and fills in the defaults. */
const resolveWorkerOptions = <Env>(options: BullmqWorkerOptions<Env>) => {
  checkOptionsObject(API, options, KNOWN)
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${API}: expected an options object, got ${describeValue(options)}`)
  }
  const {
    queue,
    connection,
    tasks,
    deadLetterQueue = `${queue}-dead`,
    env = (globalThis as { process?: { env?: unknown } }).process?.env as Env,
    timeout = false,
    retryDelay = defaultWorkerRetryDelay,
    onError = logDeliveryError,
    worker = {},
    instrumentation,
  } = options
  checkQueueNames(API, queue, deadLetterQueue)
  if (typeof connection !== 'object' || connection === null) {
    throw new TypeError(`${API}: expected \`connection\` to be an ioredis instance or its options, got ${describeValue(connection)}`)
  }
  const delivered = new DeliveredTasks(API, tasks, 'worker')
  checkTimeout(API, 'timeout', timeout)
  checkRetryDelay(API, retryDelay)
  checkFunction(API, 'onError', onError)
  checkInstrumentation(API, 'instrumentation', instrumentation)
  if (typeof worker !== 'object' || worker === null) {
    throw new TypeError(`${API}: expected \`worker\` to be an object of BullMQ worker options, got ${describeValue(worker)}`)
  }
  for (const key of ['connection', 'autorun']) {
    if (key in worker) throw new TypeError(`${API}: \`worker.${key}\` cannot be set here; pass \`connection\` at the top level`)
  }
  if (worker.concurrency !== undefined) checkCount(API, 'worker.concurrency', worker.concurrency, 1)
  return { queue, connection, delivered, deadLetterQueue, env, timeout, retryDelay, onError, worker, instrumentation }
}

/**
 * A BullMQ `Worker` for durable tasks: runs each job's task by name from the same `defineTask()`
 * definitions the web side uses, with `this.id` (the job id), `this.attempt` (the delivery count),
 * `this.env` and a `signal` aborted on the task's timeout and at `closeWorker()`'s deadline. A
 * failure is retried as the job's `attempts` and the task's `retryDelay` say. A job that failed for
 * good, names a task this worker does not know (after its retries: a newer worker may know it), or
 * is not a task message goes to the dead-letter queue with its last error; nothing runs by
 * guesswork. For Node and Bun.
 * @example
 * import IORedis from 'ioredis'
 * import { bullmqWorker, closeWorker } from 'hono-background-tasks/bullmq'
 *
 * const connection = new IORedis({ maxRetriesPerRequest: null })
 * const worker = bullmqWorker({ queue: 'tasks', connection, tasks: [sendWelcomeEmail] })
 * process.once('SIGTERM', async () => {
 *   const { unfinished } = await closeWorker(worker, { timeout: 8_000 })
 *   process.exit(unfinished.length > 0 ? 1 : 0)
 * })
 */
export const bullmqWorker = <Env = unknown>(options: BullmqWorkerOptions<Env>): Worker<TaskMessage, void> => {
  const {
    queue,
    connection,
    delivered,
    deadLetterQueue,
    env,
    timeout,
    retryDelay,
    onError,
    worker: workerOptions,
    instrumentation,
  } = resolveWorkerOptions(options)
  const jobs = new WorkerJobs()
  const deadLetters = new Queue(deadLetterQueue, { connection })
  jobs.addQueue(deadLetters)

  const deadLetter = async (job: Job, reason: DeadLetterReason, error: Error): Promise<void> => {
    try {
      await deadLetters.add(job.name, deadLetterOf(queue, job, reason, error), { jobId: String(job.id) })
    } catch (failure) {
      // The job still fails for good and stays in the queue's failed set; say where to find it.
      console.error(
        `[background-tasks] could not add job ${job.id} to the dead-letter queue "${deadLetterQueue}"; it stays failed on "${queue}":`,
        failure,
      )
    }
  }

  // Two parameters: BullMQ then makes no AbortController per job; the task's signal is its own.
  const processor = async (job: Job<TaskMessage>): Promise<void> => {
    const found = delivered.lookUp(job.data)
    if (!found.ok) {
      // A malformed message never becomes one; an unknown task may be known to a newer worker, so it is retried.
      const error =
        found.reason === 'malformed'
          ? new UnrecoverableError(`job ${job.id} on queue "${queue}" ${found.problem}; not run`)
          : new Error(`job ${job.id} on queue "${queue}" ${found.problem}; not run`)
      const final = isFinal(job, error)
      console.error(`[background-tasks] ${error.message}; ${final ? `moved to the dead-letter queue "${deadLetterQueue}"` : 'retried'}`)
      if (final) await deadLetter(job, found.reason, error)
      throw error
    }
    const delivery = { system: 'bullmq', queue, messageId: String(job.id), trace: found.message.trace }
    const { info, context, result } = delivered.run(found, Math.max(1, job.attemptsStarted), env, timeout, instrumentation, delivery)
    // A task that returned without a promise is done already; one still running can be left to another worker by closeWorker().
    const settled = result instanceof Promise ? await jobs.watch(info.name, context, result) : result
    if (settled === ABANDONED) {
      // Tells BullMQ to leave the job alone: it stays active until its lock expires, then stalled-job recovery gives it to another worker.
      throw new WaitingError(`task "${info.name}" (job ${job.id}) was left to another worker by closeWorker()`)
    }
    if (settled.outcome === 'success') {
      jobs.ended(info.name)
      return
    }
    await callHook(onError, 'onError', settled.error, info, job)
    const error = asError(settled.error)
    if (isFinal(job, error)) await deadLetter(job, 'failed', error)
    jobs.ended(info.name)
    throw error
  }

  const userBackoff = workerOptions.settings?.backoffStrategy
  const worker = new Worker<TaskMessage, void>(queue, processor, {
    ...workerOptions,
    connection,
    settings: {
      ...workerOptions.settings,
      backoffStrategy: (attemptsMade, type, error, job) => {
        if (type !== BACKOFF_TYPE) {
          if (userBackoff) return userBackoff(attemptsMade, type, error, job)
          throw new Error(`${API}: unknown backoff type "${type}"`)
        }
        const name = (job?.data as Partial<TaskMessage> | undefined)?.task
        const own = typeof name === 'string' ? delivered.get(name)?.options.retryDelay : undefined
        return retryDelayFor(own ?? retryDelay, attemptsMade + 1, error)
      },
    },
  })
  // Without a listener, an 'error' event (Redis unreachable, say) would crash the process.
  worker.on('error', (error) => {
    console.error(`[background-tasks] BullMQ worker on queue "${queue}":`, error)
  })
  // A job that stalled more than `maxStalledCount` times is failed by BullMQ without reaching the processor.
  const queued = new Queue<TaskMessage>(queue, { connection })
  jobs.addQueue(queued)
  worker.on('stalled', (jobId) => {
    ;(async () => {
      const job = await queued.getJob(jobId)
      if (job && (await job.getState()) === 'failed') {
        await deadLetter(job as Job, 'failed', new Error(job.failedReason || 'job stalled too often'))
      }
    })().catch((error: unknown) => console.error(`[background-tasks] could not check stalled job ${jobId}:`, error))
  })
  trackJobs(worker, jobs)
  return worker
}
