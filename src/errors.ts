/** The reason a task's attempt failed when it ran past its `timeout`; its signal is aborted with it. */
export class TaskTimeoutError extends Error {
  override name = 'TaskTimeoutError'

  constructor(
    /** The task's name. */
    readonly task: string,
    /** The timeout it ran past, in milliseconds. */
    readonly timeout: number,
  ) {
    super(`task "${task}" timed out after ${timeout} ms`)
  }
}

/** The reason a running task's signal is aborted when `drainTasks()` reaches its deadline. */
export class DrainTimeoutError extends Error {
  override name = 'DrainTimeoutError'

  constructor(
    /** The task's name. */
    readonly task: string,
  ) {
    super(`task "${task}" was still running when drainTasks() reached its deadline`)
  }
}

/** What `onError` receives when a durable task could not be handed to its transport; `cause` says why. */
export class TaskSendError extends Error {
  override name = 'TaskSendError'

  constructor(
    /** The task's name. */
    readonly task: string,
    cause: unknown,
  ) {
    super(`task "${task}" could not be sent to its transport: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
  }
}
