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

/** Calls a user wrapper with a `run` that runs once: if the wrapper throws or never calls it, it is called here. */
const callWrapper = <A, R>(label: string, wrapper: (run: (arg?: A) => R) => unknown, run: (arg?: A) => R): R => {
  let called = false
  let result: R | undefined
  const once = (arg?: A): R => {
    if (!called) {
      called = true
      result = run(arg)
    }
    return result as R
  }
  try {
    const returned = wrapper(once)
    if (returned instanceof Promise) returned.catch((error: unknown) => report(label, error))
  } catch (error) {
    report(label, error)
  }
  return once()
}

/** The message of one attempt: its fields are read once, the abort reason whenever asked. */
class Report implements TaskChannelMessage {
  readonly name: string
  readonly id: string
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
    this.id = context.id
    this.attempt = context.attempt
    this.args = context.task.args
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
  const attempt = tracing ? () => publishAttempt(tracing, message, () => runAttempt(context, timeout)) : () => runAttempt(context, timeout)
  if (!wrapper) return attempt()
  return callWrapper('attempt()', (once) => wrapper.call(instrumentation, message, once), attempt)
}

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
  return callWrapper<readonly TaskMessage[], AttemptResult | Promise<AttemptResult>>(
    'send()',
    (once) => wrapper.call(instrumentation, info, once),
    (sent) => send(Array.isArray(sent) && sent.length === messages.length ? sent : messages),
  )
}
