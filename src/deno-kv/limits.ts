import { defaultWorkerRetryDelay } from '../retry.ts'
import type { TaskMessage, TaskOptions } from '../types.ts'

/**
 * Deno KV's limits that a queued task meets (checked on Deno 2.9.5): `backoffSchedule` has at most
 * 5 steps of at most an hour; one queued value is at most 64 KiB once serialised; one atomic commit
 * holds at most 100 checks and 800 KiB of mutations. `add()` refuses a task past the first three.
 * @example
 * // The most a durable task sent to Deno KV may ask for:
 * defineTask('sync', syncAccount, { retries: DENO_KV_LIMITS.retries, retryDelay: DENO_KV_LIMITS.retryDelay })
 */
export const DENO_KV_LIMITS: Readonly<{
  retries: number
  retryDelay: number
  messageBytes: number
  commitChecks: number
  commitBytes: number
}> = Object.freeze({
  retries: 5,
  retryDelay: 3_600_000,
  messageBytes: 65_536,
  commitChecks: 100,
  commitBytes: 819_200,
})

/** What is queued for a task: its message, its own retries, and the backoff schedule it was sent with (so that a re-run retries the same way). */
export interface QueuedTask extends TaskMessage {
  /** The task's own retries: the worker makes a failure after them a dead letter itself. */
  readonly retries: number
  /** Deno KV's retries: the task's, and a spare one for a worker that dies or stops mid-task while steps are left. */
  readonly backoffSchedule: number[]
}

/** No wait before the spare delivery: Deno KV's own 5 s timeout on a dead worker's message has passed already. */
export const SPARE_DELIVERY_MS = 0

/**
 * The schedule a task is sent with: its own retries, then a spare delivery while Deno KV allows
 * one more step, so that a worker that dies or stops mid-task does not cost a task with no retries
 * its only run. The worker makes a failure after the task's own retries a dead letter at once.
 */
export const withSpareDelivery = (schedule: number[]): number[] =>
  schedule.length < DENO_KV_LIMITS.retries ? [...schedule, SPARE_DELIVERY_MS] : schedule

const group = (n: number): string => n.toLocaleString('en-US')

/**
 * The task's retries as a Deno KV `backoffSchedule`: one step per retry, the task's `retryDelay`
 * before retry 2, 3, ... (1 s doubling by default). A function is asked once per retry with no
 * error, since the schedule is fixed when the task is sent. Throws a one-line error naming the
 * task when Deno cannot give what it asks for.
 */
export const backoffScheduleFor = (api: string, task: string, options: Readonly<TaskOptions> | undefined): number[] => {
  const retries = options?.retries ?? 0
  if (retries > DENO_KV_LIMITS.retries) {
    throw new RangeError(
      `${api}: durable task "${task}" asks for ${retries} retries; Deno KV queues retry a message at most ${DENO_KV_LIMITS.retries} times (\`backoffSchedule\` has at most ${DENO_KV_LIMITS.retries} steps)`,
    )
  }
  const retryDelay = options?.retryDelay ?? defaultWorkerRetryDelay
  const schedule: number[] = []
  for (let attempt = 2; attempt <= retries + 1; attempt++) {
    let delay: unknown
    if (typeof retryDelay === 'number') delay = retryDelay
    else {
      try {
        delay = retryDelay(attempt, undefined)
      } catch (error) {
        throw new TypeError(
          `${api}: durable task "${task}" has a \`retryDelay\` function that threw when asked for attempt ${attempt} without an error (${error instanceof Error ? error.message : String(error)}); Deno KV needs the whole schedule when the task is sent: pass a number, or a function of the attempt alone`,
        )
      }
    }
    if (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0) {
      throw new TypeError(
        `${api}: durable task "${task}" has a \`retryDelay\` that gives ${String(delay)} for attempt ${attempt}; Deno KV needs a number of milliseconds from 0 to ${group(DENO_KV_LIMITS.retryDelay)} per retry`,
      )
    }
    if (delay > DENO_KV_LIMITS.retryDelay) {
      throw new RangeError(
        `${api}: durable task "${task}" asks for a retry delay of ${group(delay)} ms before attempt ${attempt}; Deno KV queues wait at most ${group(DENO_KV_LIMITS.retryDelay)} ms (an hour) between retries`,
      )
    }
    schedule.push(Math.round(delay))
  }
  return schedule
}

const encoder = new TextEncoder()

/** Bytes a one-byte (Latin-1) string takes in V8's format, or twice its length for a two-byte one. */
const stringBytes = (value: string): number => {
  // Latin-1 strings are stored one byte per character, others two.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is the point.
  return /^[\u0000-\u00ff]*$/.test(value) ? value.length : 2 * value.length
}

/**
 * An upper bound of the bytes `value` (a JSON value) takes in V8's serialisation format, which is
 * what Deno KV measures against its 64 KiB limit: tags and lengths counted at their widest,
 * numbers as doubles, strings at one or two bytes per character.
 */
export const serialisedSizeBound = (value: unknown): number => {
  // Header (version tag and number), then the value.
  return 2 + sizeOf(value)
}

const sizeOf = (value: unknown): number => {
  switch (typeof value) {
    case 'string':
      // Tag, length varint (at most 5 bytes), an alignment byte for two-byte strings, the characters.
      return 7 + stringBytes(value)
    case 'number':
      return 9
    case 'boolean':
    case 'undefined':
      return 1
  }
  if (value === null) return 1
  if (Array.isArray(value)) {
    let bytes = 17 // Tag, length, end tag and two counts.
    for (const item of value) bytes += sizeOf(item)
    return bytes
  }
  if (typeof value === 'object') {
    let bytes = 7 // Tag, end tag and count.
    for (const [key, item] of Object.entries(value as object)) if (item !== undefined) bytes += 7 + stringBytes(key) + sizeOf(item)
    return bytes
  }
  // Not a JSON value: the arguments were checked before this is asked.
  return encoder.encode(String(value)).length + 9
}

/** The one-line error for a task whose queued value would exceed Deno KV's limit. */
export const tooLarge = (api: string, task: string, bytes: number): RangeError =>
  new RangeError(
    `${api}: expected durable task "${task}" to fit one Deno KV queue message (at most ${group(DENO_KV_LIMITS.messageBytes)} bytes serialised, envelope included), got up to ${group(bytes)} bytes; pass a key to the data (a KV key, a file) instead of the data`,
  )
