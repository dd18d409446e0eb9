import type { PgBoss } from 'pg-boss'
import { checkCount, checkOptionsObject, describeValue } from '../validate.ts'

/**
 * Why a job ended in the dead-letter queue. `failed`: its task's last attempt failed;
 * `unknown-task`: no worker knew its task, after its retries; `malformed`: its data is not a task
 * message (at once); `interrupted`: its deliveries ran out while it was running (a worker died, or
 * `stop()` gave up on it), so pg-boss failed it without the task's own error.
 */
export type DeadLetterReason = 'failed' | 'unknown-task' | 'malformed' | 'interrupted'

/** What the worker stores as a failed job's `output`; pg-boss copies it to the dead letter. */
export interface FailureOutput {
  readonly reason: DeadLetterReason | 'stopped'
  readonly error: { readonly name: string; readonly message: string; readonly stack?: string }
  /** The delivery that failed (`this.attempt`). */
  readonly attempt: number
}

/** A job in the dead-letter queue, as `readDeadLetters()` gives it. */
export interface DeadLetter {
  /** Its id in the dead-letter queue: what `boss.redrive(deadLetterQueue, { ids })` takes. */
  readonly id: string
  readonly reason: DeadLetterReason
  /** The queue it came from. */
  readonly queue: string | null
  /** Its job id there: the task's id, unless it was run again with `redrive()`, which gives a new job id. */
  readonly jobId: string | null
  /** The task it names, if its data has one. */
  readonly task: string | undefined
  /** The task's id (`this.id`), if its data has one: the same across re-runs. */
  readonly taskId: string | undefined
  /** Its data, untouched: `{ task, args, id, enqueuedAt }` for a task message. */
  readonly data: unknown
  /** How many deliveries it had. */
  readonly attempts: number
  /** The last error. */
  readonly error: { readonly name: string; readonly message: string; readonly stack?: string }
  /** When it was dead-lettered. */
  readonly failedAt: Date
}

/** Options of `readDeadLetters()`. */
export interface ReadDeadLettersOptions {
  /** The dead-letter queue. @default 'tasks-dead' */
  deadLetterQueue?: string
  /** At most this many, oldest first. @default 1000 */
  limit?: number
}

/** The part of a `PgBoss` `readDeadLetters()` uses. */
export type DeadLetterBoss = Pick<PgBoss, 'findJobs'>

export const errorOf = (error: Error): FailureOutput['error'] => ({ name: error.name, message: error.message, stack: error.stack })

const readOutput = (output: unknown): { reason: DeadLetterReason; error: FailureOutput['error'] } => {
  const { reason, error } = (output ?? {}) as Partial<FailureOutput>
  if ((reason === 'failed' || reason === 'unknown-task' || reason === 'malformed') && typeof error?.message === 'string') {
    return { reason, error }
  }
  // pg-boss's own: `{ value: { message: 'job heartbeat timeout' } }`, or our `stopped` on a job with no delivery left.
  const own = (output as { value?: { message?: unknown } } | null)?.value?.message ?? error?.message
  return { reason: 'interrupted', error: { name: 'Error', message: typeof own === 'string' ? own : 'the job was interrupted' } }
}

/**
 * Lists the jobs in a dead-letter queue, oldest first, with why each is there and its last error.
 * Run one again once its cause is fixed with pg-boss's `redrive()`: it goes back to its queue as a
 * new job with the same data (so the same `this.id` and the task's own retries, within the queue's
 * retry limit of two deliveries). The task must stay idempotent.
 * @example
 * for (const letter of await readDeadLetters(boss, { deadLetterQueue: 'tasks-dead' })) {
 *   console.log(`${letter.task} (id ${letter.jobId}) ${letter.reason} after ${letter.attempts} attempts: ${letter.error.message}`)
 * }
 * await boss.redrive('tasks-dead', { ids: [letter.id] })
 */
export const readDeadLetters = async (boss: DeadLetterBoss, options: ReadDeadLettersOptions = {}): Promise<DeadLetter[]> => {
  const api = 'readDeadLetters'
  if (typeof (boss as DeadLetterBoss | null)?.findJobs !== 'function') {
    throw new TypeError(`${api}: expected a PgBoss instance, got ${describeValue(boss)}`)
  }
  checkOptionsObject(api, options, ['deadLetterQueue', 'limit'])
  const { deadLetterQueue = 'tasks-dead', limit = 1000 } = options
  if (typeof deadLetterQueue !== 'string' || deadLetterQueue === '') {
    throw new TypeError(`${api}: expected \`deadLetterQueue\` to be a queue name, got ${describeValue(deadLetterQueue)}`)
  }
  checkCount(api, 'limit', limit, 1, 100_000)
  const jobs = await boss.findJobs(deadLetterQueue, { queued: true, limit })
  return jobs.map((job) => {
    const { reason, error } = readOutput(job.sourceOutput)
    const { task, id } = (job.data ?? {}) as { task?: unknown; id?: unknown }
    return {
      id: job.id,
      reason,
      queue: job.sourceName,
      jobId: job.sourceId,
      task: typeof task === 'string' ? task : undefined,
      taskId: typeof id === 'string' ? id : undefined,
      data: job.data,
      attempts: (job.sourceRetryCount ?? 0) + 1,
      error,
      failedAt: job.createdOn,
    }
  })
}
