import { type Attempt, type Outcome, runAttempt } from './attempt.ts'
import { activeChannel, publishAttempt } from './channel.ts'
import type { AttemptResult, SendInfo, TaskChannelMessage, TaskDelivery, TaskInstrumentation, TaskMessage, TaskTransport } from './types.ts'

const report = (label: string, error: unknown): void => {
  console.error(`[background-tasks] the instrumentation's ${label} threw:`, error)
}

/** Calls `capture()` where the task is added; a throw only costs the task its origin. */
export const captureOrigin = (instrumentation: TaskInstrumentation): unknown => {
  try {
    return instrumentation.capture?.()
  } catch (error) {
    report('capture()', error)
    return undefined
  }
}

/** Calls a user wrapper; a throw, or a rejection of what it returns, is logged. */
const invoke = <I, R>(
  label: string,
  wrapper: (info: I, run: R) => unknown,
  instrumentation: TaskInstrumentation,
  info: I,
  run: R,
): void => {
  try {
    const returned = wrapper.call(instrumentation, info, run)
    if (returned instanceof Promise) returned.catch((error: unknown) => report(label, error))
  } catch (error) {
    report(label, error)
  }
}

/**
 * The message of one attempt. `id` is read when asked: a task's id is a UUID made when first read,
 * which costs more than the rest of the attempt's bookkeeping.
 */
class Report implements TaskChannelMessage {
  readonly name: string
  readonly attempt: number
  readonly args: readonly unknown[]
  outcome?: AttemptResult['outcome']
  error?: unknown
  readonly #context: Attempt

  constructor(
    context: Attempt,
    readonly origin: unknown,
    readonly delivery: TaskDelivery | undefined,
  ) {
    this.#context = context
    this.name = context.name
    this.attempt = context.attempt
    this.args = context.task.args
  }

  get id(): string {
    return this.#context.id
  }

  get abortReason(): unknown {
    return this.#context.reason
  }
}

/**
 * Runs one attempt as `runAttempt()` does; inside the instrumentation's `attempt` and published on
 * the tracing channel when either is there. Without both, it is `runAttempt()` and one check.
 */
export const observeAttempt = (
  context: Attempt,
  timeout: number | false,
  instrumentation: TaskInstrumentation | undefined,
  origin: unknown,
  delivery?: TaskDelivery,
): Outcome | Promise<Outcome> => {
  const wrapper = instrumentation?.attempt
  const tracing = activeChannel()
  if (!wrapper && !tracing) return runAttempt(context, timeout)
  const message = new Report(context, origin, delivery)
  if (!wrapper) return runPublished(context, timeout, tracing, message)
  // `run` runs the attempt once: called here if the wrapper threw first or never called it.
  let result: Outcome | Promise<Outcome> | undefined
  const run = (): Outcome | Promise<Outcome> => (result ??= runPublished(context, timeout, tracing, message))
  invoke('attempt()', wrapper, instrumentation as TaskInstrumentation, message, run)
  return run()
}

const runPublished = (
  context: Attempt,
  timeout: number | false,
  tracing: ReturnType<typeof activeChannel>,
  message: Report,
): Outcome | Promise<Outcome> =>
  tracing ? publishAttempt(tracing, message, () => runAttempt(context, timeout)) : runAttempt(context, timeout)

/** A task on its way to a transport, as `observeSend()` reads it. */
interface Sent {
  readonly name: string
  readonly id: string
  readonly origin?: unknown
}

/** Sends `messages` with `send`; inside the instrumentation's `send` when there is one, which may add trace context to them. */
export const observeSend = (
  instrumentation: TaskInstrumentation | undefined,
  tasks: readonly Sent[],
  messages: readonly TaskMessage[],
  transport: TaskTransport,
  send: (messages: readonly TaskMessage[]) => AttemptResult | Promise<AttemptResult>,
): Outcome | Promise<Outcome> => {
  const wrapper = instrumentation?.send
  if (!wrapper) return send(messages)
  const info: SendInfo = { tasks: tasks.map(({ name, id, origin }) => ({ name, id, origin })), messages, transport }
  let result: AttemptResult | Promise<AttemptResult> | undefined
  const run = (sent?: readonly TaskMessage[]): AttemptResult | Promise<AttemptResult> =>
    (result ??= send(Array.isArray(sent) && sent.length === messages.length ? sent : messages))
  invoke('send()', wrapper, instrumentation as TaskInstrumentation, info, run)
  return run()
}
