import { parseTaskMessage } from '../durable/message.ts'
import { checkOptionsObject, describeValue } from '../validate.ts'
import { DEFAULT_PREFIX, KeyLayout, type KvKey, type KvLike } from './kv.ts'
import type { QueuedTask } from './limits.ts'
import { checkPrefix } from './transport.ts'

/** Why a message ended as a dead letter. */
export type DeadLetterReason = 'failed' | 'unknown-task' | 'malformed'

/** The error of a failed delivery, as kept in the KV store. */
export interface StoredError {
  readonly name: string
  readonly message: string
  readonly stack?: string
}

/** What the worker keeps next to a message whose delivery failed: the dead letter's listing shows it. */
export interface FailureRecord {
  /** `failed`: the task threw or timed out; `unknown-task`: no worker knew its task; `malformed`: not a task message. */
  readonly reason: DeadLetterReason
  /** The last error. */
  readonly error: StoredError
  /** Deliveries started when it failed. */
  readonly attempts: number
  /** When it failed, in milliseconds since the epoch. */
  readonly failedAt: number
}

/** A message that Deno KV gave up on, or that the worker refused, with why. */
export interface DeadLetter {
  /** The task's id (`this.id`), the last part of its key. */
  readonly id: string
  /** The task's name, when the message is a task message. */
  readonly task: string | undefined
  /** Its arguments, when the message is a task message. */
  readonly args: readonly unknown[] | undefined
  /** The queued value, untouched: `{ task, args, id, enqueuedAt, backoffSchedule }` for a task. */
  readonly message: unknown
  /** Why it is here; `failed` when the worker left no record (it died during the last delivery). */
  readonly reason: DeadLetterReason
  /** The last error, when the worker recorded one. */
  readonly error: StoredError | undefined
  /** Deliveries started (0 when none was recorded, or the count had expired). */
  readonly attempts: number
  /** When its last delivery failed, in milliseconds since the epoch, when recorded. */
  readonly failedAt: number | undefined
}

/** Options of `listDeadLetters()` and `retryDeadLetter()`. */
export interface DeadLetterOptions {
  /** The key prefix given to `denoKvQueue()` and `denoKvWorker()`. @default ['hono-background-tasks'] */
  prefix?: KvKey
}

const REASONS: readonly string[] = ['failed', 'unknown-task', 'malformed']

const asFailure = (value: unknown): FailureRecord | undefined => {
  const record = value as Partial<FailureRecord> | null
  return typeof record === 'object' && record !== null && REASONS.includes(record.reason as string) ? (record as FailureRecord) : undefined
}

/** The error as the KV store can keep it: a structured clone of an arbitrary error may fail or be large. */
export const storedError = (error: unknown): StoredError => {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack?.slice(0, 4_000) }
  return { name: 'Error', message: String(error) }
}

const layoutFor = (api: string, kv: KvLike, options: DeadLetterOptions): KeyLayout => {
  if (typeof (kv as KvLike | null)?.list !== 'function') {
    throw new TypeError(`${api}: expected a Deno.Kv (\`await Deno.openKv()\`), got ${describeValue(kv)}`)
  }
  checkOptionsObject(api, options, ['prefix'])
  const { prefix = DEFAULT_PREFIX } = options
  checkPrefix(api, prefix)
  return new KeyLayout([...prefix])
}

/**
 * The dead letters under a prefix: messages whose last retry failed (written there by Deno KV,
 * `keysIfUndelivered`), that named a task no worker knew, or that were not task messages, each
 * with the worker's record of why and its last error. Nothing runs them: read them, then re-run
 * one with `retryDeadLetter()` once its cause is fixed.
 * @example
 * for (const dead of await listDeadLetters(kv)) {
 *   console.log(`${dead.id}: ${dead.task} ${dead.reason} after ${dead.attempts} attempts: ${dead.error?.message}`)
 * }
 */
export const listDeadLetters = async (kv: KvLike, options: DeadLetterOptions = {}): Promise<DeadLetter[]> => {
  const keys = layoutFor('listDeadLetters', kv, options)
  const letters: DeadLetter[] = []
  for await (const entry of kv.list({ prefix: keys.deadLetters })) {
    const id = String(entry.key[entry.key.length - 1])
    const failure = asFailure((await kv.get(keys.failure(id))).value)
    // Without a record (the worker died during the last delivery), the delivery count still says how many ran.
    const counted = failure ? undefined : (await kv.get(keys.attempts(id))).value
    const parsed = parseTaskMessage(entry.value)
    const message = typeof parsed === 'string' ? undefined : parsed
    letters.push({
      id,
      task: message?.task,
      args: message?.args,
      message: entry.value,
      reason: failure?.reason ?? (message ? 'failed' : 'malformed'),
      error: failure?.error,
      attempts: failure?.attempts ?? (typeof counted === 'number' ? counted : 0),
      failedAt: failure?.failedAt,
    })
  }
  return letters
}

/**
 * Runs a dead letter again: its message goes back on the queue with the backoff schedule it was
 * sent with and its delivery count reset, and it leaves the dead letters, in one atomic commit.
 * The task still runs under its id, so it must stay idempotent.
 * @example
 * await retryDeadLetter(kv, 'the-task-id')
 */
export const retryDeadLetter = async (kv: KvLike, id: string, options: DeadLetterOptions = {}): Promise<void> => {
  const api = 'retryDeadLetter'
  const keys = layoutFor(api, kv, options)
  if (typeof id !== 'string' || id === '') throw new TypeError(`${api}: expected the id of a dead letter, got ${describeValue(id)}`)
  const entry = await kv.get(keys.dead(id))
  if (entry.versionstamp === null)
    throw new Error(`${api}: there is no dead letter "${id}" under the prefix ${JSON.stringify(keys.prefix.map(String))}`)
  const schedule = (entry.value as Partial<QueuedTask> | null)?.backoffSchedule
  const backoffSchedule = Array.isArray(schedule) && schedule.every((step) => typeof step === 'number') ? schedule : []
  const { ok } = await kv
    .atomic()
    .check({ key: keys.dead(id), versionstamp: entry.versionstamp })
    .delete(keys.dead(id))
    .delete(keys.failure(id))
    .delete(keys.attempts(id))
    .enqueue(entry.value, { backoffSchedule, keysIfUndelivered: [keys.dead(id)] })
    .commit()
  if (!ok)
    throw new Error(`${api}: dead letter "${id}" changed while it was being retried (retried by another call?); it was not enqueued twice`)
}
