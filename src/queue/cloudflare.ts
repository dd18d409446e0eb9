import type { Context } from 'hono'
import type { TaskMessage, TaskTransport } from '../types.ts'
import { describeValue } from '../validate.ts'

/** The part of a Cloudflare Queues producer binding (`Queue`) the transport uses. */
export interface QueueProducer {
  sendBatch(messages: Iterable<{ body: unknown; contentType?: 'json' }>): Promise<unknown>
}

// Cloudflare's limits per sendBatch: 100 messages and 256 KB, with room left for framing.
const MAX_COUNT = 100
const MAX_BYTES = 250_000

const encoder = new TextEncoder()

/** Splits messages into batches that fit one `sendBatch`; a single oversized message is left to fail alone. */
const chunk = (messages: readonly TaskMessage[]): TaskMessage[][] => {
  const chunks: TaskMessage[][] = []
  let current: TaskMessage[] = []
  let bytes = 0
  for (const message of messages) {
    const size = encoder.encode(JSON.stringify(message)).length
    if (current.length > 0 && (current.length === MAX_COUNT || bytes + size > MAX_BYTES)) {
      chunks.push(current)
      current = []
      bytes = 0
    }
    current.push(message)
    bytes += size
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}

/**
 * Sends durable tasks to a Cloudflare Queue: the name of its producer binding on `c.env`, or a
 * function returning the binding. Several tasks of one request go in one `sendBatch`.
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
    async send(messages, c) {
      const binding = typeof queue === 'function' ? queue(c) : (c.env as Record<string, QueueProducer | undefined> | undefined)?.[queue]
      if (typeof binding?.sendBatch !== 'function') {
        const where = typeof queue === 'string' ? `\`c.env.${queue}\`` : 'the function given to cloudflareQueue()'
        throw new TypeError(
          `cloudflareQueue: ${where} is not a queue producer binding; declare it in wrangler.toml under [[queues.producers]]`,
        )
      }
      let sent = 0
      for (const batch of chunk(messages)) {
        try {
          await binding.sendBatch(batch.map((body) => ({ body, contentType: 'json' as const })))
        } catch (error) {
          if (sent === 0) throw error
          const reason = error instanceof Error ? error.message : String(error)
          throw new Error(`cloudflareQueue: ${sent} of ${messages.length} messages were sent before sendBatch failed: ${reason}`, {
            cause: error,
          })
        }
        sent += batch.length
      }
    },
  }
}
