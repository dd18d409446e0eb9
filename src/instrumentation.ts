import type { AttemptResult, SendInfo, TaskInstrumentation, TaskMessage, TaskTransport } from './types.ts'

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
export const invoke = <I, R>(
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
): AttemptResult | Promise<AttemptResult> => {
  const wrapper = instrumentation?.send
  if (!wrapper) return send(messages)
  const info: SendInfo = { tasks: tasks.map(({ name, id, origin }) => ({ name, id, origin })), messages, transport }
  let result: AttemptResult | Promise<AttemptResult> | undefined
  const run = (sent?: readonly TaskMessage[]): AttemptResult | Promise<AttemptResult> =>
    (result ??= send(Array.isArray(sent) && sent.length === messages.length ? sent : messages))
  invoke('send()', wrapper, instrumentation as TaskInstrumentation, info, run)
  return run()
}
