/**
 * Every retry rule in one place: the default delays of the in-process runner, the Cloudflare Queues
 * consumer and the BullMQ worker, how a delay is read from an option, and when an attempt is the last.
 */

/** Milliseconds (or seconds, for the Cloudflare consumer) before retry `attempt`, or a function of it and the error. */
export type RetryDelay = number | ((attempt: number, error: unknown) => number)

/** In-process (`backgroundTasks({ retryDelay })`): 100 ms before the first retry, doubling, at most 10 s. */
export const defaultRetryDelay = (attempt: number): number => Math.min(100 * 2 ** (attempt - 2), 10_000)

/** BullMQ worker (`bullmqWorker({ retryDelay })`): 1 s before the first retry, doubling, at most an hour. */
export const defaultWorkerRetryDelay = (attempt: number): number => Math.min(1000 * 2 ** (attempt - 2), 3_600_000)

/** Cloudflare Queues consumer (`queueConsumer({ retryDelaySeconds })`): 5 s after the first delivery, doubling, at most an hour. */
export const defaultConsumerRetryDelaySeconds = (attempt: number): number => Math.min(5 * 2 ** (attempt - 1), 3600)

/** The longest delay Cloudflare Queues accepts for a retried message: 12 hours. */
export const MAX_CONSUMER_DELAY_SECONDS = 43_200

/** A retry delay from a number or a user function: never throws, never negative or non-finite. */
export const retryDelayFor = (retryDelay: RetryDelay, attempt: number, error: unknown, label = 'retryDelay'): number => {
  let delay = 0
  try {
    delay = typeof retryDelay === 'function' ? retryDelay(attempt, error) : retryDelay
  } catch (thrown) {
    console.error(`[background-tasks] the ${label} function threw:`, thrown)
  }
  return Number.isFinite(delay) && delay > 0 ? delay : 0
}

/** The whole seconds a Cloudflare message waits before its next delivery (`attempts` deliveries so far). */
export const consumerDelaySeconds = (retryDelaySeconds: RetryDelay, attempts: number, error: unknown): number =>
  Math.min(Math.ceil(retryDelayFor(retryDelaySeconds, attempts, error, 'retryDelaySeconds')), MAX_CONSUMER_DELAY_SECONDS)

/** Whether attempt `attempt` (1 for the first try) leaves a retry, with `retries` allowed. */
export const retriesLeft = (attempt: number, retries: number): boolean => attempt <= retries

/** How many attempts a task with `retries` gets: a BullMQ job's `attempts`. */
export const attemptsFor = (retries: number | undefined): number => (retries ?? 0) + 1

/** Whether the attempt after `attemptsMade` finished ones is a job's last of `attempts`. */
export const isLastAttempt = (attemptsMade: number, attempts: number | undefined): boolean => attemptsMade + 1 >= Math.max(1, attempts ?? 1)
