import { type ConnectionOptions, type Job, Queue, UnrecoverableError, WaitingError, Worker, type WorkerOptions } from 'bullmq'
import { retryDelayFor, Attempt as TaskAttempt } from '../attempt.ts'
import { observeAttempt } from '../instrumentation.ts'
import { tasksByName } from '../queue/define.ts'
import { parseTaskMessage } from '../queue/message.ts'
import type { Task, TaskInfo, TaskInstrumentation, TaskMessage } from '../types.ts'
import {
  checkCount,
  checkFunction,
  checkInstrumentation,
  checkOptionsObject,
  checkRetryDelay,
  checkTimeout,
  describeValue,
} from '../validate.ts'
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
  retryDelay?: number | ((attempt: number, error: unknown) => number)
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

/** One job this worker is running. */
interface Running {
  readonly name: string
  readonly context: TaskAttempt
  /** Resolved at the close deadline: the job is left to stalled-job recovery. */
  readonly abandon: () => void
}

/** What closeWorker() needs of a worker that bullmqWorker() made. */
interface WorkerState {
  readonly running: Set<Running>
  /** Tasks whose job ended since closeWorker() started; nothing is kept before that. */
  finished: string[] | undefined
  readonly queues: { close(): Promise<void> }[]
  closing?: Promise<WorkerCloseResult>
}

const states = new WeakMap<object, WorkerState>()

const ABANDONED = Symbol('abandoned')

const defaultRetryDelay = (attempt: number): number => Math.min(1000 * 2 ** (attempt - 2), 3_600_000)

const logError = (error: unknown, task: TaskInfo): void => {
  console.error(`[background-tasks] durable task "${task.name}" (id ${task.id}) failed on attempt ${task.attempt}:`, error)
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error), { cause: error }))

/** Whether this failure is the job's last: BullMQ will not retry it. */
const isFinal = (job: Job, error: Error): boolean =>
  error instanceof UnrecoverableError || job.attemptsMade + 1 >= Math.max(1, job.opts.attempts ?? 1)

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
  const api = 'bullmqWorker'
  checkOptionsObject(api, options, [
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
  ])
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`${api}: expected an options object, got ${describeValue(options)}`)
  const {
    queue,
    connection,
    tasks,
    deadLetterQueue = `${queue}-dead`,
    env = (globalThis as { process?: { env?: unknown } }).process?.env as Env,
    timeout = false,
    retryDelay = defaultRetryDelay,
    onError = logError,
    worker: workerOptions = {},
    instrumentation,
  } = options
  for (const [key, value] of [
    ['queue', queue],
    ['deadLetterQueue', deadLetterQueue],
  ] as const) {
    if (typeof value !== 'string' || value === '')
      throw new TypeError(`${api}: expected \`${key}\` to be a queue name, got ${describeValue(value)}`)
  }
  if (deadLetterQueue === queue)
    throw new TypeError(`${api}: expected \`deadLetterQueue\` to differ from \`queue\`, got "${queue}" for both`)
  if (typeof connection !== 'object' || connection === null) {
    throw new TypeError(`${api}: expected \`connection\` to be an ioredis instance or its options, got ${describeValue(connection)}`)
  }
  if (!Array.isArray(tasks))
    throw new TypeError(`${api}: expected \`tasks\` to be an array of defineTask() tasks, got ${describeValue(tasks)}`)
  const registry = tasksByName(api, tasks)
  checkTimeout(api, 'timeout', timeout)
  checkRetryDelay(api, retryDelay)
  checkFunction(api, 'onError', onError)
  checkInstrumentation(api, 'instrumentation', instrumentation)
  if (typeof workerOptions !== 'object' || workerOptions === null) {
    throw new TypeError(`${api}: expected \`worker\` to be an object of BullMQ worker options, got ${describeValue(workerOptions)}`)
  }
  for (const key of ['connection', 'autorun']) {
    if (key in workerOptions) throw new TypeError(`${api}: \`worker.${key}\` cannot be set here; pass \`connection\` at the top level`)
  }
  if (workerOptions.concurrency !== undefined) checkCount(api, 'worker.concurrency', workerOptions.concurrency, 1)
  const known = [...registry.keys()].map((name) => `"${name}"`).join(', ') || 'none'

  const deadLetters = new Queue(deadLetterQueue, { connection })
  const state: WorkerState = { running: new Set(), finished: undefined, queues: [deadLetters] }

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
    const parsed = parseTaskMessage(job.data)
    if (typeof parsed === 'string') {
      const error = new UnrecoverableError(`job ${job.id} on queue "${queue}" is not a task message: ${parsed}; not run`)
      console.error(`[background-tasks] ${error.message}; moved to the dead-letter queue "${deadLetterQueue}"`)
      await deadLetter(job, 'malformed', error)
      throw error
    }
    const task = registry.get(parsed.task)
    if (!task) {
      const error = new Error(
        `job ${job.id} on queue "${queue}" names task "${parsed.task}", which this worker does not know (it knows ${known}); not run`,
      )
      const final = isFinal(job, error)
      console.error(`[background-tasks] ${error.message}; ${final ? `moved to the dead-letter queue "${deadLetterQueue}"` : 'retried'}`)
      if (final) await deadLetter(job, 'unknown-task', error)
      throw error
    }
    const attempt = Math.max(1, job.attemptsStarted)
    const info: TaskInfo = { name: parsed.task, id: parsed.id, attempt, args: parsed.args }
    const context = new TaskAttempt({ fn: task.fn, args: [...parsed.args], name: info.name, id: info.id }, attempt, env)
    const delivery = { system: 'bullmq', queue, messageId: String(job.id), trace: parsed.trace }
    let result = observeAttempt(context, task.options.timeout ?? timeout, instrumentation, undefined, delivery)
    // A task that returned without a promise is done already; one still running can be left to another worker by closeWorker().
    if (result instanceof Promise) {
      let abandon = (): void => {}
      const abandoned = new Promise<typeof ABANDONED>((resolve) => {
        abandon = () => resolve(ABANDONED)
      })
      const running: Running = { name: info.name, context, abandon }
      state.running.add(running)
      let settled: Awaited<typeof result> | typeof ABANDONED
      try {
        settled = await Promise.race([result, abandoned])
      } finally {
        state.running.delete(running)
      }
      if (settled === ABANDONED) {
        // Tells BullMQ to leave the job alone: it stays active until its lock expires, then stalled-job recovery gives it to another worker.
        throw new WaitingError(`task "${info.name}" (job ${job.id}) was left to another worker by closeWorker()`)
      }
      result = settled
    }
    if (result.outcome === 'success') {
      state.finished?.push(info.name)
      return
    }
    try {
      await onError(result.error, info, job)
    } catch (error) {
      console.error('[background-tasks] the onError hook threw:', error)
    }
    const error = asError(result.error)
    if (isFinal(job, error)) await deadLetter(job, 'failed', error)
    state.finished?.push(info.name)
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
          throw new Error(`${api}: unknown backoff type "${type}"`)
        }
        const name = (job?.data as Partial<TaskMessage> | undefined)?.task
        const own = typeof name === 'string' ? registry.get(name)?.options.retryDelay : undefined
        return retryDelayFor(own ?? retryDelay, attemptsMade + 1, error)
      },
    },
  })
  // Without a listener, an 'error' event (Redis unreachable, say) would crash the process.
  worker.on('error', (error) => {
    console.error(`[background-tasks] BullMQ worker on queue "${queue}":`, error)
  })
  // A job that stalled more than `maxStalledCount` times is failed by BullMQ without reaching the processor.
  const jobs = new Queue<TaskMessage>(queue, { connection })
  state.queues.push(jobs)
  worker.on('stalled', (jobId) => {
    ;(async () => {
      const job = await jobs.getJob(jobId)
      if (job && (await job.getState()) === 'failed')
        await deadLetter(job as Job, 'failed', new Error(job.failedReason || 'job stalled too often'))
    })().catch((error: unknown) => console.error(`[background-tasks] could not check stalled job ${jobId}:`, error))
  })
  states.set(worker, state)
  return worker
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
  const state = states.get(worker)
  if (!state) throw new TypeError(`${api}: expected a worker made by bullmqWorker(), got ${describeValue(worker)}`)
  checkOptionsObject(api, options, ['timeout'])
  const { timeout = 8_000 } = options
  checkTimeout(api, 'timeout', timeout)
  state.closing ??= (async () => {
    const finished: string[] = []
    state.finished = finished
    const closing = worker.close().catch((error: unknown) => console.error(`[background-tasks] ${api}: closing the worker failed:`, error))
    let timer: ReturnType<typeof setTimeout> | undefined
    const deadline = new Promise<'deadline'>((resolve) => {
      if (timeout !== false) timer = setTimeout(resolve, timeout, 'deadline')
    })
    const unfinished: string[] = []
    if ((await Promise.race([closing, deadline])) === 'deadline') {
      for (const running of [...state.running]) {
        unfinished.push(running.name)
        running.context.abort(new WorkerCloseTimeoutError(running.name))
        running.abandon()
      }
      await closing
    }
    if (timer !== undefined) clearTimeout(timer)
    await Promise.all(state.queues.map((queue) => queue.close().catch(() => {})))
    return { finished, unfinished }
  })()
  return state.closing
}
