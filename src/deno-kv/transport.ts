import { batchesWithin } from '../durable/batches.ts'
import { GroupCommit } from '../durable/group-commit.ts'
import type { TaskMessage, TaskOptions, TaskSendResult, TaskTransport } from '../types.ts'
import { checkBoolean, checkOptionsObject, describeValue } from '../validate.ts'
import { DEFAULT_PREFIX, isKeyPrefix, KeyLayout, type KvKey, type KvLike } from './kv.ts'
import { backoffScheduleFor, DENO_KV_LIMITS, type QueuedTask, serialisedSizeBound, tooLarge, withSpareDelivery } from './limits.ts'

/** Options of `denoKvQueue()`. */
export interface DenoKvQueueOptions {
  /**
   * Enqueue the tasks before the middleware returns the response, so that a client that has its
   * response knows the work is in the KV store, and a web process killed right after responding
   * loses nothing. With `false`, they are enqueued after the response, like `cloudflareQueue()` does.
   * @default true
   */
  beforeResponse?: boolean
  /**
   * The key prefix under which the transport and `denoKvWorker()` keep what they write: the
   * markers that drop a repeated send, the delivery counts and the dead letters. Give the worker,
   * `listDeadLetters()` and `retryDeadLetter()` the same one.
   * @default ['hono-background-tasks']
   */
  prefix?: KvKey
}

/** How long a sent task's marker is kept: a second send of its id within this time is dropped. */
export const SENT_MARKER_MS = 86_400_000

/** Checks a `prefix` option in the one-line style. */
export const checkPrefix = (api: string, prefix: unknown): void => {
  if (!isKeyPrefix(prefix)) {
    throw new TypeError(
      `${api}: expected \`prefix\` to be a Deno KV key prefix (an array of strings, numbers, bigints, booleans, symbols or Uint8Arrays), got ${describeValue(prefix)}`,
    )
  }
}

/** The value to enqueue for a message, or throws why Deno KV cannot take it. */
const queuedTaskOf = (api: string, message: TaskMessage, options: Readonly<TaskOptions> | undefined): Sized => {
  const own = backoffScheduleFor(api, message.task, options)
  const value: QueuedTask = { ...message, retries: own.length, backoffSchedule: withSpareDelivery(own) }
  const bytes = serialisedSizeBound(value)
  if (bytes > DENO_KV_LIMITS.messageBytes) throw tooLarge(api, message.task, bytes)
  return { value, bytes }
}

/** A queued value and the bound of its serialised size, measured once. */
interface Sized {
  readonly value: QueuedTask
  readonly bytes: number
}

/** The value, the marker and the keys of one task in a commit, counted generously. */
const COMMIT_OVERHEAD_BYTES = 512

/**
 * Enqueues one commit's values, each once per id: a value whose marker is there already was sent
 * before, and counts as sent. A commit that loses a race with another send of one of its ids is
 * tried again without the ids now marked.
 */
const commitOnce = async (kv: KvLike, keys: KeyLayout, values: readonly QueuedTask[]): Promise<void> => {
  let pending = values
  for (let round = 0; pending.length > 0; round++) {
    const op = kv.atomic()
    for (const value of pending) {
      op.check({ key: keys.sent(value.id), versionstamp: null })
      op.set(keys.sent(value.id), { task: value.task, enqueuedAt: value.enqueuedAt }, { expireIn: SENT_MARKER_MS })
      op.enqueue(value, { backoffSchedule: value.backoffSchedule, keysIfUndelivered: [keys.dead(value.id)] })
    }
    if ((await op.commit()).ok) return
    if (round === 2) throw new Error('denoKvQueue: the commit kept failing its checks; another send of the same ids is racing it')
    const marked = await Promise.all(pending.map((value) => kv.get(keys.sent(value.id))))
    pending = pending.filter((_, i) => marked[i]!.versionstamp === null)
  }
}

/** Commits values in as few commits as Deno KV's limits allow; a failed commit refuses only its own values. */
const commitAll = async (kv: KvLike, keys: KeyLayout, values: readonly Sized[]): Promise<TaskSendResult[]> => {
  const results: TaskSendResult[] = new Array(values.length)
  const sizes = values.map(({ bytes }, i) => [i, bytes + COMMIT_OVERHEAD_BYTES] as const)
  for (const indexes of batchesWithin(sizes, DENO_KV_LIMITS.commitChecks, DENO_KV_LIMITS.commitBytes)) {
    let outcome: TaskSendResult
    try {
      await commitOnce(
        kv,
        keys,
        indexes.map((i) => values[i]!.value),
      )
      outcome = { status: 'fulfilled', value: undefined }
    } catch (reason) {
      // A failed commit wrote none of its tasks; the commits before and after it stand.
      outcome = { status: 'rejected', reason }
    }
    for (const i of indexes) results[i] = outcome
  }
  return results
}

/**
 * Sends durable tasks to a Deno KV queue in atomic commits: a request's tasks, and those of the
 * requests that arrive while a commit is in flight, go together in the next (more than one only
 * past Deno's limits of 100 tasks or 800 KiB per commit), each value the task message `{ task, args, id,
 * enqueuedAt }` with its `retries` and `backoffSchedule`. A task's `retries` and `retryDelay` become
 * the message's `backoffSchedule` (1 s doubling by default), plus a spare delivery for a worker
 * that dies mid-task (while the schedule has room for it), and its dead letter goes under the
 * prefix (`keysIfUndelivered`). A repeated send of one task id within a day is dropped. `add()`
 * refuses a task that asks for more than Deno gives (over 5 retries, over an hour between them, a
 * `retryDelay` function of the error) or whose message is over 64 KiB. `denoKvWorker()` runs them.
 * For Deno.
 * @example
 * import { denoKvQueue } from 'hono-background-tasks/deno-kv'
 *
 * const kv = await Deno.openKv()
 * app.use(backgroundTasks({ transport: denoKvQueue(kv) }))
 */
export const denoKvQueue = (kv: KvLike, options: DenoKvQueueOptions = {}): TaskTransport => {
  const api = 'denoKvQueue'
  if (typeof (kv as KvLike | null)?.atomic !== 'function' || typeof (kv as KvLike | null)?.listenQueue !== 'function') {
    throw new TypeError(`${api}: expected a Deno.Kv (\`await Deno.openKv()\`), got ${describeValue(kv)}`)
  }
  checkOptionsObject(api, options, ['beforeResponse', 'prefix'])
  const { beforeResponse = true, prefix = DEFAULT_PREFIX } = options
  checkBoolean(api, 'beforeResponse', beforeResponse)
  checkPrefix(api, prefix)
  const keys = new KeyLayout([...prefix])
  const commits = new GroupCommit<Sized>((values) => commitAll(kv, keys, values), DENO_KV_LIMITS.commitChecks)
  return {
    system: 'deno_kv',
    destination: prefix.map(String).join('/'),
    beforeResponse,
    check(message, taskOptions) {
      queuedTaskOf('tasks.add', message, taskOptions)
    },
    async send(messages, _c, taskOptions) {
      const results: TaskSendResult[] = new Array(messages.length)
      const values: Sized[] = []
      const indexes: number[] = []
      for (const [i, message] of messages.entries()) {
        try {
          values.push(queuedTaskOf(api, message, taskOptions?.[i]))
          indexes.push(i)
        } catch (reason) {
          results[i] = { status: 'rejected', reason }
        }
      }
      if (values.length > 0) for (const [j, result] of (await commits.send(values)).entries()) results[indexes[j]!] = result
      return results
    },
  }
}
