import type { PgBoss, Queue } from 'pg-boss'

/** The part of a `PgBoss` that makes sure a queue exists. */
export type QueueBoss = Pick<PgBoss, 'createQueue' | 'getQueue'>

/**
 * The settings both sides create the queue with, so that whichever starts first makes the same
 * queue. Jobs from `pgBossQueue()` carry their own retries; these apply to jobs sent another way
 * and to a dead letter run again with `boss.redrive()`: two deliveries at most, 1 s
 * doubling backoff (at most an hour), and a 30 s heartbeat that a dead worker stops.
 */
export const QUEUE_SETTINGS = Object.freeze({
  retryLimit: 1,
  retryDelay: 1,
  retryBackoff: true,
  retryDelayMax: 3600,
  heartbeatSeconds: 30,
}) satisfies Omit<Queue, 'name'>

const made = new WeakMap<object, Map<string, Promise<void>>>()

const create = async (boss: QueueBoss, queue: string, deadLetterQueue: string): Promise<void> => {
  if (await boss.getQueue(queue)) return
  // The dead-letter queue first: pg-boss refuses a queue whose dead-letter queue does not exist.
  // create_queue() does nothing for a queue that exists, so two processes starting at once agree.
  await boss.createQueue(deadLetterQueue)
  await boss.createQueue(queue, { ...QUEUE_SETTINGS, deadLetter: deadLetterQueue })
}

/**
 * Creates `queue` and its dead-letter queue unless they exist, once per `boss` and queue; a
 * failure is not kept, so the next call tries again.
 */
export const ensureQueue = (boss: QueueBoss, queue: string, deadLetterQueue: string): Promise<void> => {
  const queues = made.get(boss) ?? new Map<string, Promise<void>>()
  made.set(boss, queues)
  let making = queues.get(queue)
  if (!making) {
    making = create(boss, queue, deadLetterQueue)
    queues.set(queue, making)
    making.catch(() => queues.delete(queue))
  }
  return making
}
