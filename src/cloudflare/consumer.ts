import { DeliveredTasks } from '../durable/deliver.ts'
import { callHook } from '../reports.ts'
import { consumerDelaySeconds, defaultConsumerRetryDelaySeconds, MAX_CONSUMER_DELAY_SECONDS, type RetryDelay } from '../retry.ts'
import type { Task, TaskInfo, TaskInstrumentation } from '../types.ts'
import { checkFunction, checkInstrumentation, checkOptionsObject, checkTimeout, describeValue } from '../validate.ts'

/** The part of a Cloudflare Queues `Message` the consumer uses. */
export interface QueueMessage {
  /** The queue's id for this message. */
  readonly id: string
  /** 1 on the first delivery, 2 on the first retry, and so on. */
  readonly attempts: number
  /** The task message, `{ task, args, id, enqueuedAt }`, or whatever else was sent to the queue. */
  readonly body: unknown
  /** Done: the queue deletes it. */
  ack(): void
  /** Deliver it again after `delaySeconds`, unless `max_retries` is reached: then the dead-letter queue. */
  retry(options?: { delaySeconds?: number }): void
}

/** The part of a Cloudflare Queues `MessageBatch` the consumer uses. */
export interface QueueBatch {
  /** The name of the queue the batch comes from. */
  readonly queue: string
  /** The messages, run one after another. */
  readonly messages: readonly QueueMessage[]
}

/** Options of `queueConsumer()`. */
export interface QueueConsumerOptions {
  /** The durable tasks (`defineTask()`) this consumer runs, looked up by name. */
  tasks: readonly Task[]
  /**
   * Seconds before a failed message is delivered again, or a function of the delivery count and
   * the error. The queue's `max_retries` decides when it stops, then its dead-letter queue takes it.
   * @default (attempt) => 5 * 2 ** (attempt - 1), at most 3600: 5 s, 10 s, 20 s, ...
   */
  retryDelaySeconds?: RetryDelay
  /**
   * Milliseconds one delivery of a task may run before its signal is aborted and the message is
   * retried, or `false`. A task's own `timeout` wins.
   * @default false
   */
  timeout?: number | false
  /**
   * Called for every delivery that failed, with the task and the message; the message is retried.
   * @default logs the task, its id, the attempt and the error with `console.error`
   */
  onError?: (error: unknown, task: TaskInfo, message: QueueMessage) => void | Promise<void>
  /**
   * Wraps each delivery's run: `taskTracing()` from `hono-background-tasks/otel` makes it a
   * CONSUMER span that links to the span that sent the message.
   * @example
   * queueConsumer({ tasks: [sendWelcomeEmail], instrumentation: taskTracing() })
   */
  instrumentation?: TaskInstrumentation
}

// The queue redelivers every failed message, up to its max_retries (then its dead-letter queue).
const logError = (error: unknown, task: TaskInfo): void => {
  console.error(`[background-tasks] durable task "${task.name}" (id ${task.id}) failed on attempt ${task.attempt}; retrying:`, error)
}

/**
 * The Worker's `queue` handler for durable tasks: runs each message's task by name, acks it on
 * success and retries it with backoff on failure. A message that is not a task message, or names
 * a task this consumer does not know, is logged and never run: it is retried untouched, so that a
 * newer consumer can still take it during a deploy, and otherwise it ends in the dead-letter queue
 * after `max_retries`. Messages of a batch run one after another.
 * @example
 * export default {
 *   fetch: app.fetch,
 *   queue: queueConsumer({ tasks: [sendWelcomeEmail] }),
 * } satisfies ExportedHandler<Env>
 */
export const queueConsumer = <Env = unknown>(options: QueueConsumerOptions): ((batch: QueueBatch, env: Env) => Promise<void>) => {
  const api = 'queueConsumer'
  checkOptionsObject(api, options, ['tasks', 'retryDelaySeconds', 'timeout', 'onError', 'instrumentation'])
  const {
    tasks,
    retryDelaySeconds = defaultConsumerRetryDelaySeconds,
    timeout = false,
    onError = logError,
    instrumentation,
  } = options ?? {}
  const delivered = new DeliveredTasks(api, tasks, 'consumer')
  if (typeof retryDelaySeconds !== 'function') {
    if (typeof retryDelaySeconds !== 'number' || !(retryDelaySeconds >= 0 && retryDelaySeconds <= MAX_CONSUMER_DELAY_SECONDS)) {
      throw new RangeError(
        `${api}: expected \`retryDelaySeconds\` to be from 0 to ${MAX_CONSUMER_DELAY_SECONDS} or a function, got ${describeValue(retryDelaySeconds)}`,
      )
    }
  }
  checkTimeout(api, 'timeout', timeout)
  checkFunction(api, 'onError', onError)
  checkInstrumentation(api, 'instrumentation', instrumentation)

  const consume = async (message: QueueMessage, queue: string, env: Env): Promise<void> => {
    const found = delivered.lookUp(message.body)
    if (!found.ok) {
      console.error(
        `[background-tasks] message ${message.id} on queue "${queue}" ${found.problem}; not run, retried so that it ends in the dead-letter queue after max_retries`,
      )
      message.retry({ delaySeconds: consumerDelaySeconds(retryDelaySeconds, message.attempts, undefined) })
      return
    }
    const delivery = { system: 'cloudflare_queues', queue, messageId: message.id, trace: found.message.trace }
    const { info, result } = delivered.run(found, message.attempts, env, timeout, instrumentation, delivery)
    const settled = await result
    if (settled.outcome === 'success') {
      message.ack()
      return
    }
    await callHook(onError, 'onError', settled.error, info, message)
    message.retry({ delaySeconds: consumerDelaySeconds(retryDelaySeconds, message.attempts, settled.error) })
  }

  return async function queueConsumer(batch, env) {
    for (const message of batch.messages) {
      try {
        await consume(message, batch.queue, env)
      } catch (error) {
        // Only a broken message object gets here; leave it to the queue's own retry.
        console.error(`[background-tasks] could not handle message ${message?.id} on queue "${batch.queue}":`, error)
      }
    }
  }
}
