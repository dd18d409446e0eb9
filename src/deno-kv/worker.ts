import type { Attempt } from '../attempt.ts'
import { asError, DeliveredTasks, logDeliveryError } from '../durable/deliver.ts'
import { ABANDONED, RunningTasks, type WorkerStopResult, WorkerStopTimeoutError } from '../durable/running.ts'
import { callHook } from '../reports.ts'
import type { Task, TaskInfo, TaskInstrumentation, TaskMessage } from '../types.ts'
import { checkFunction, checkInstrumentation, checkOptionsObject, checkTimeout, describeValue } from '../validate.ts'
import { type DeadLetterReason, type FailureRecord, storedError } from './dead-letter.ts'
import { DEFAULT_PREFIX, KeyLayout, type KvKey, type KvLike } from './kv.ts'
import type { QueuedTask } from './limits.ts'
import { checkPrefix } from './transport.ts'

/** Options of `denoKvWorker()`. */
export interface DenoKvWorkerOptions<Env = unknown> {
  /**
   * The KV store to listen on: a `Deno.Kv` from `await Deno.openKv()`. Its queue is the worker's:
   * every message on it must be a task message. `stop()` closes it, since Deno offers no other way
   * to stop listening.
   */
  kv: KvLike
  /** The durable tasks (`defineTask()`) this worker runs, looked up by name. */
  tasks: readonly Task[]
  /** The key prefix given to `denoKvQueue()`. @default ['hono-background-tasks'] */
  prefix?: KvKey
  /** `this.env` in the tasks. @default Deno.env.toObject(), or `undefined` where it is not available or not allowed */
  env?: Env
  /**
   * Milliseconds one delivery of a task may run before its signal is aborted and it counts as a
   * failed attempt, or `false`. A task's own `timeout` wins.
   * @default false
   */
  timeout?: number | false
  /**
   * Called for every delivery that failed, with the task and its message, before Deno KV retries
   * it or makes it a dead letter.
   * @default logs the task, its id, the attempt and the error with `console.error`
   */
  onError?: (error: unknown, task: TaskInfo, message: TaskMessage) => void | Promise<void>
  /**
   * Wraps each delivery's run: `taskTracing()` from `hono-background-tasks/otel` makes it a
   * CONSUMER span that links to the span that queued the task.
   */
  instrumentation?: TaskInstrumentation
}

/** Options of a Deno KV worker's `stop()`. */
export interface StopWorkerOptions {
  /** Milliseconds to let running tasks finish, or `false` to wait for them. @default 8_000 */
  timeout?: number | false
}

/** A running `denoKvWorker()`. */
export interface DenoKvWorker {
  /**
   * Stops the worker within a deadline (Deno's `close()` has none): a message delivered from now
   * on is not run but goes back on the queue as it was; running tasks may finish. At the deadline
   * their signals are aborted with a `WorkerStopTimeoutError` and they are named; Deno KV delivers
   * their messages again once the KV store is closed. Then it closes the KV store. Later calls
   * return the same result.
   */
  stop(options?: StopWorkerOptions): Promise<WorkerStopResult>
}

const API = 'denoKvWorker'
const KNOWN = ['kv', 'tasks', 'prefix', 'env', 'timeout', 'onError', 'instrumentation'] as const

/** How long a delivery count is kept after the last delivery: beyond Deno's longest schedule (5 hours). */
const ATTEMPTS_MS = 7 * 86_400_000

/** A message a stopping worker puts back waits this long: that worker takes it back at most once a second until it closes. */
const REQUEUE_DELAY_MS = 1_000

/** A handler that must not settle: Deno KV then keeps its message and delivers it again after the KV store is closed. */
const never = (): Promise<never> => new Promise<never>(() => {})

/** `Deno.env.toObject()` where Deno is, and env access is allowed. */
const denoEnv = (): unknown => {
  try {
    return (globalThis as { Deno?: { env?: { toObject?(): Record<string, string> } } }).Deno?.env?.toObject?.()
  } catch {
    return undefined
  }
}

/** Checks `denoKvWorker()`'s options in the one-line style and fills in the defaults. */
const resolveWorkerOptions = <Env>(options: DenoKvWorkerOptions<Env>) => {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${API}: expected an options object, got ${describeValue(options)}`)
  }
  checkOptionsObject(API, options, KNOWN)
  const { kv, tasks, prefix = DEFAULT_PREFIX, timeout = false, onError = logDeliveryError, instrumentation } = options
  if (typeof (kv as KvLike | null)?.listenQueue !== 'function') {
    throw new TypeError(`${API}: expected \`kv\` to be a Deno.Kv (\`await Deno.openKv()\`), got ${describeValue(kv)}`)
  }
  const delivered = new DeliveredTasks(API, tasks, 'worker')
  checkPrefix(API, prefix)
  checkTimeout(API, 'timeout', timeout)
  checkFunction(API, 'onError', onError)
  checkInstrumentation(API, 'instrumentation', instrumentation)
  const env = 'env' in options ? options.env : denoEnv()
  return { kv, delivered, prefix, env, timeout, onError, instrumentation }
}

/**
 * Listens on a Deno KV queue and runs each message's task by name from the same `defineTask()`
 * definitions the web side uses, with `this.id` (the task's id), `this.attempt` (the delivery
 * count, kept in the KV store), `this.env` and a `signal` aborted on the task's timeout and at
 * `stop()`'s deadline. A failure is thrown back to Deno KV, which retries it per the task's
 * `backoffSchedule`; one after the task's last retry is made a dead letter under the prefix at
 * once (the schedule's spare delivery is kept for a worker that dies mid-task). A message that names a task
 * this worker does not know is retried the same way (a newer worker may know it); one that is not a
 * task message is made a dead letter at once. Each failure's reason and error are kept for
 * `listDeadLetters()`. For Deno.
 * @example
 * import { denoKvWorker } from 'hono-background-tasks/deno-kv'
 *
 * const worker = denoKvWorker({ kv: await Deno.openKv(), tasks: [sendWelcomeEmail] })
 * Deno.addSignalListener('SIGTERM', async () => {
 *   const { unfinished } = await worker.stop({ timeout: 8_000 })
 *   Deno.exit(unfinished.length > 0 ? 1 : 0)
 * })
 */
export const denoKvWorker = <Env = unknown>(options: DenoKvWorkerOptions<Env>): DenoKvWorker => {
  const { kv, delivered, prefix, env, timeout, onError, instrumentation } = resolveWorkerOptions(options)
  const keys = new KeyLayout([...prefix])
  const destination = prefix.map(String).join('/')
  const running = new RunningTasks()
  /** Messages delivered after `stop()` began, being put back on the queue. */
  const requeuing = new Set<Promise<void>>()

  /** Counts a delivery of `id` and returns its number: 1 for the first. */
  const countAttempt = async (id: string): Promise<number> => {
    // A compare-and-set on one key: it fails only while another delivery of the same id counts, so it ends.
    for (;;) {
      const entry = await kv.get(keys.attempts(id))
      const attempt = (typeof entry.value === 'number' ? entry.value : 0) + 1
      const op = kv.atomic().check({ key: keys.attempts(id), versionstamp: entry.versionstamp })
      if ((await op.set(keys.attempts(id), attempt, { expireIn: ATTEMPTS_MS }).commit()).ok) return attempt
    }
  }

  const recordFailure = async (id: string, reason: DeadLetterReason, error: unknown, attempts: number): Promise<void> => {
    const record: FailureRecord = { reason, error: storedError(error), attempts, failedAt: Date.now() }
    await kv.atomic().set(keys.failure(id), record).commit()
  }

  /** Not a task message: a dead letter at once, with the reason, and not retried. */
  const refuseMalformed = async (value: unknown, problem: string): Promise<void> => {
    const given = (value as { id?: unknown } | null)?.id
    const id = typeof given === 'string' && given !== '' ? given : `malformed-${crypto.randomUUID()}`
    const error = new Error(`message ${id} on Deno KV queue "${destination}" ${problem}; not run`)
    console.error(`[background-tasks] ${error.message}; made a dead letter`)
    const record: FailureRecord = { reason: 'malformed', error: storedError(error), attempts: 1, failedAt: Date.now() }
    await kv.atomic().set(keys.dead(id), value).set(keys.failure(id), record).commit()
  }

  const deliver = async (value: unknown): Promise<void> => {
    const found = delivered.lookUp(value)
    if (!found.ok && found.reason === 'malformed') return refuseMalformed(value, found.problem)
    const id = (value as TaskMessage).id
    const attempt = await countAttempt(id)
    if (!found.ok) {
      const error = new Error(`message ${id} on Deno KV queue "${destination}" ${found.problem}; not run`)
      console.error(`[background-tasks] ${error.message}; Deno KV retries it, then makes it a dead letter`)
      await recordFailure(id, 'unknown-task', error, attempt)
      throw error
    }
    if (running.gaveUp) return never()
    const delivery = { system: 'deno_kv', queue: destination, messageId: id, trace: found.message.trace }
    const { info, context, result } = delivered.run(found, attempt, env, timeout, instrumentation, delivery)
    const settled = result instanceof Promise ? await running.watch(info.name, context, result) : result
    if (settled === ABANDONED) return never()
    if (settled.outcome === 'success') {
      await kv.atomic().delete(keys.attempts(id)).delete(keys.failure(id)).commit()
      running.ended(info.name)
      return
    }
    await callHook(onError, 'onError', settled.error, info, found.message)
    const retries = (value as Partial<QueuedTask>).retries
    if (typeof retries === 'number' && attempt > retries) {
      // The task's own retries are spent: what is left of the schedule is the spare delivery, kept for a worker that dies.
      const record: FailureRecord = { reason: 'failed', error: storedError(settled.error), attempts: attempt, failedAt: Date.now() }
      await kv.atomic().set(keys.dead(id), value).set(keys.failure(id), record).commit()
      console.error(`[background-tasks] durable task "${info.name}" (id ${id}) made a dead letter after attempt ${attempt}`)
      running.ended(info.name)
      return
    }
    await recordFailure(id, 'failed', settled.error, attempt)
    running.ended(info.name)
    // Thrown back to Deno KV, which retries it per its backoffSchedule or makes it a dead letter.
    throw asError(settled.error)
  }

  const listening = kv
    .listenQueue((value: unknown) => {
      if (running.stopping) {
        const putBack = requeue(value)
        requeuing.add(putBack)
        return putBack.finally(() => requeuing.delete(putBack))
      }
      return running.handle(() => deliver(value))
    })
    .catch((error: unknown) => console.error(`[background-tasks] ${API}: listening on the Deno KV queue failed:`, error))

  /**
   * Sends a message delivered during the stop back to the queue as it was, with the retries it had
   * left: a throw would spend one of them. It waits a second, so that this worker, still stopping,
   * takes it back less often; once it is closed, another worker takes it.
   */
  const requeue = async (value: unknown): Promise<void> => {
    const id = (value as Partial<TaskMessage> | null)?.id
    const schedule = (value as Partial<QueuedTask> | null)?.backoffSchedule
    if (typeof id !== 'string' || !Array.isArray(schedule)) {
      await kv.atomic().enqueue(value, { delay: REQUEUE_DELAY_MS }).commit()
      return
    }
    const made = (await kv.get(keys.attempts(id))).value
    const left = schedule.slice(typeof made === 'number' ? made : 0)
    await kv
      .atomic()
      .enqueue(value, { delay: REQUEUE_DELAY_MS, backoffSchedule: left, keysIfUndelivered: [keys.dead(id)] })
      .commit()
  }

  let stopping: Promise<WorkerStopResult> | undefined
  const stop = (stopOptions: StopWorkerOptions = {}): Promise<WorkerStopResult> => {
    checkOptionsObject('stop', stopOptions, ['timeout'])
    const { timeout: stopTimeout = 8_000 } = stopOptions
    checkTimeout('stop', 'timeout', stopTimeout)
    stopping ??= (async () => {
      const result = await running.stop(
        running.idle(),
        stopTimeout,
        (task) =>
          new WorkerStopTimeoutError(task, "the Deno KV worker's stop()", "Deno KV delivers it again once the worker's KV store is closed"),
        (context: Attempt, reason: Error) => recordFailure(context.id, 'failed', reason, context.attempt).catch(() => {}),
      )
      // Until close(), messages still arrive and go back; each handler's outcome is sent to the store after it
      // returns, and a read queued behind it lets it arrive before close() drops it.
      do {
        await Promise.allSettled([...requeuing])
        await new Promise((resolve) => setTimeout(resolve, 0))
        await kv.get(keys.attempts('')).catch(() => {})
      } while (requeuing.size > 0)
      kv.close()
      await listening
      return result
    })()
    return stopping
  }
  return { stop }
}
