import type { Context } from 'hono'
import { batchesWithin } from '../durable/batches.ts'
import type { TaskMessage, TaskSendResult, TaskTransport } from '../types.ts'
import { describeValue } from '../validate.ts'

/** The part of a Cloudflare Queues producer binding (`Queue`) the transport uses. */
export interface QueueProducer {
  sendBatch(messages: Iterable<{ body: unknown; contentType?: 'json' }>): Promise<unknown>
}

/** Cloudflare Queues' limits: one message, and one `sendBatch` (count and bytes), in JSON bytes. */
export const CLOUDFLARE_LIMITS = Object.freeze({ messageBytes: 128_000, batchCount: 100, batchBytes: 256_000 })

const encoder = new TextEncoder()

/** The UTF-8 length of a string, without encoding it when it is clearly short enough. */
const byteLength = (json: string, limit: number): number => (json.length * 3 <= limit ? json.length : encoder.encode(json).length)

const sizeOf = (message: TaskMessage): number => encoder.encode(JSON.stringify(message)).length

const group = (n: number): string => n.toLocaleString('en-US')

/** The one-line error for a message over the limit; `api` is where it is thrown. */
const tooLarge = (api: string, task: string, bytes: number): RangeError =>
  new RangeError(
    `${api}: expected durable task "${task}" to fit one Cloudflare Queues message (at most ${group(CLOUDFLARE_LIMITS.messageBytes)} bytes of JSON, envelope included), got ${group(bytes)} bytes; pass a key to the data (R2, KV) instead of the data`,
  )

/**
 * Splits messages (by index) into batches that fit one `sendBatch`: at most 100 messages and
 * 256 KB of JSON. A message over the per-message limit goes in no batch: it is refused alone.
 */
const plan = (messages: readonly TaskMessage[], results: TaskSendResult[]): number[][] => {
  const fitting: [index: number, bytes: number][] = []
  for (const [i, message] of messages.entries()) {
    const size = sizeOf(message)
    if (size > CLOUDFLARE_LIMITS.messageBytes) results[i] = { status: 'rejected', reason: tooLarge('cloudflareQueue', message.task, size) }
    else fitting.push([i, size])
  }
  return batchesWithin(fitting, CLOUDFLARE_LIMITS.batchCount, CLOUDFLARE_LIMITS.batchBytes)
}

/**
 * Sends durable tasks to a Cloudflare Queue: the name of its producer binding on `c.env`, or a
 * function returning the binding. A request's tasks go in as few `sendBatch` calls as Cloudflare's
 * limits allow (100 messages, 256 KB); `add()` refuses a task whose message would exceed 128 KB.
 * When one `sendBatch` fails, only its own messages are reported as not sent.
 * @example
 * // wrangler.toml: [[queues.producers]] binding = "TASKS", queue = "tasks"
 * app.use(backgroundTasks({ transport: cloudflareQueue('TASKS') }))
 */
export const cloudflareQueue = (queue: string | ((c: Context) => QueueProducer)): TaskTransport => {
  if ((typeof queue !== 'string' || queue === '') && typeof queue !== 'function') {
    throw new TypeError(`cloudflareQueue: expected the name of a queue binding or a function returning one, got ${describeValue(queue)}`)
  }
  return {
    system: 'cloudflare_queues',
    check(message) {
      const json = JSON.stringify(message)
      const bytes = byteLength(json, CLOUDFLARE_LIMITS.messageBytes)
      if (bytes > CLOUDFLARE_LIMITS.messageBytes) throw tooLarge('tasks.add', message.task, bytes)
    },
    async send(messages, c) {
      const binding = typeof queue === 'function' ? queue(c) : (c.env as Record<string, QueueProducer | undefined> | undefined)?.[queue]
      if (typeof binding?.sendBatch !== 'function') {
        const where = typeof queue === 'string' ? `\`c.env.${queue}\`` : 'the function given to cloudflareQueue()'
        throw new TypeError(
          `cloudflareQueue: ${where} is not a queue producer binding; declare it in wrangler.toml under [[queues.producers]]`,
        )
      }
      const results: TaskSendResult[] = new Array(messages.length)
      for (const batch of plan(messages, results)) {
        let outcome: TaskSendResult
        try {
          await binding.sendBatch(batch.map((i) => ({ body: messages[i], contentType: 'json' as const })))
          outcome = { status: 'fulfilled', value: undefined }
        } catch (reason) {
          // A failed sendBatch accepted none of its messages; the batches before and after it stand.
          outcome = { status: 'rejected', reason }
        }
        for (const i of batch) results[i] = outcome
      }
      return results
    },
  }
}
