import type { JobsOptions } from 'bullmq'

/** Why a job ended in the dead-letter queue. */
export type DeadLetterReason = 'failed' | 'unknown-task' | 'malformed'

/** The data of a job in the dead-letter queue: the job as it was, and why it is there. */
export interface DeadLetter {
  /** `failed`: its last attempt failed; `unknown-task`: no worker knew its task; `malformed`: not a task message. */
  readonly reason: DeadLetterReason
  /** The queue it came from. */
  readonly queue: string
  /** Its job id there: the task's id (`this.id`) for a task message. */
  readonly jobId: string
  /** Its job name there: the task's name. */
  readonly name: string
  /** Its job data, untouched: `{ task, args, id, enqueuedAt }` for a task message. */
  readonly data: unknown
  /** How many times it was started (deliveries). */
  readonly attempts: number
  /** The last error. */
  readonly error: { readonly name: string; readonly message: string; readonly stack?: string }
  /** When it was dead-lettered, in milliseconds since the epoch. */
  readonly failedAt: number
  /** The job's `attempts` and `backoff`, so that a re-run retries the same way. */
  readonly opts: Pick<JobsOptions, 'attempts' | 'backoff'>
}

/** The part of a BullMQ `Job` read here. */
export interface JobLike {
  readonly id?: string
  readonly name: string
  readonly data: unknown
  readonly attemptsStarted: number
  readonly opts: JobsOptions
  getState(): Promise<string>
  retry(state?: 'failed' | 'completed', opts?: { resetAttemptsMade?: boolean; resetAttemptsStarted?: boolean }): Promise<void>
  remove(): Promise<void>
}

/** The part of a BullMQ `Queue` read here. */
export interface QueueLike {
  readonly name: string
  getJob(id: string): Promise<JobLike | undefined>
  add(name: string, data: unknown, opts?: JobsOptions): Promise<unknown>
}

/** What to store for a job that ends in the dead-letter queue. */
export const deadLetterOf = (queue: string, job: JobLike, reason: DeadLetterReason, error: Error): DeadLetter => ({
  reason,
  queue,
  jobId: String(job.id),
  name: job.name,
  data: job.data,
  attempts: job.attemptsStarted,
  error: { name: error.name, message: error.message, stack: error.stack },
  failedAt: Date.now(),
  opts: { attempts: job.opts.attempts, backoff: job.opts.backoff },
})

/**
 * Runs a dead-lettered job again: the failed job itself is retried on its queue with its attempts
 * reset (or added again with the same id, data and retries if it is gone), then it leaves the
 * dead-letter queue. The task still runs under its id, so it must stay idempotent.
 * @example
 * import { Queue } from 'bullmq'
 * const tasks = new Queue('tasks', { connection })
 * const dead = new Queue('tasks-dead', { connection })
 * for (const job of await dead.getWaiting()) console.log(job.id, job.data.reason, job.data.error.message)
 * await retryDeadLetter(dead, tasks, 'the-job-id')
 */
export const retryDeadLetter = async (deadLetterQueue: QueueLike, queue: QueueLike, id: string): Promise<void> => {
  const api = 'retryDeadLetter'
  const letter = await deadLetterQueue.getJob(id)
  if (!letter) throw new Error(`${api}: there is no job "${id}" in the dead-letter queue "${deadLetterQueue.name}"`)
  const record = letter.data as DeadLetter
  if (record.queue !== queue.name) {
    throw new Error(`${api}: job "${id}" came from queue "${record.queue}", not "${queue.name}"; pass that queue`)
  }
  const original = await queue.getJob(record.jobId)
  const state = original ? await original.getState() : 'missing'
  if (original && state === 'failed') await original.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true })
  else if (!original || state === 'unknown') await queue.add(record.name, record.data, { ...record.opts, jobId: record.jobId })
  else throw new Error(`${api}: job "${record.jobId}" is ${state} on queue "${queue.name}" already; it was not run a second time`)
  await letter.remove()
}
