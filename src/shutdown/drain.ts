import { DEADLINE, Deadline } from '../deadline.ts'
import { drainTasks, pendingTasks } from '../registry.ts'
import type { StoppableServer } from './server.ts'

/** What a shutdown did, by name. */
export interface ShutdownReport {
  /** What started it: the signal's name, or the reason given to `shutdown()`. */
  readonly reason: string
  /** Names of the tasks that settled during the shutdown (succeeded, or failed and were reported). */
  readonly finished: string[]
  /** Names of the tasks still waiting or running at the deadline; their signals were aborted. */
  readonly unfinished: string[]
  /** Whether every response in flight when it started was sent before the deadline. */
  readonly responsesFinished: boolean
  /** Nothing was left behind: the process exits with 0 when this holds, else with 1. */
  readonly ok: boolean
  /** Milliseconds from the start of the shutdown to its end. */
  readonly duration: number
}

/** `sendEmail (3), writeAudit`: names in first-seen order, repeats counted. */
export const formatNames = (names: readonly string[]): string => {
  const counts = new Map<string, number>()
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1)
  return [...counts].map(([name, n]) => (n > 1 ? `${name} (${n})` : name)).join(', ')
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

/** Options of `stopAndDrain()`, all filled in. */
export interface StopAndDrainOptions {
  readonly timeout: number | false
  readonly log: (line: string) => void
  readonly reason: string
  /** Whether the process exits afterwards: the last line then says with which code. */
  readonly exit: boolean
}

/**
 * The shutdown itself, with no signals and no exit: stop the server, let the responses in flight
 * finish, drain the in-process tasks, all within one deadline, and log by name what did not finish.
 * Never rejects.
 */
export const stopAndDrain = async (server: StoppableServer, options: StopAndDrainOptions): Promise<ShutdownReport> => {
  const { timeout, log, reason, exit } = options
  const started = performance.now()
  const deadline = new Deadline(timeout)
  const tasksAtStart = pendingTasks().length
  let stopping: Promise<void>
  try {
    stopping = server.stop()
  } catch (error) {
    stopping = Promise.reject(error)
  }
  const responses = stopping.then(
    () => true,
    (error: unknown) => {
      log(`[background-tasks] ${reason}: stopping the server failed: ${String(error)}`)
      return true
    },
  )
  const open = server.inFlight()
  const waiting = open === undefined ? 'the responses in flight' : plural(open, 'response')
  const limit = timeout === false ? 'no deadline' : `deadline ${timeout} ms`
  log(
    `[background-tasks] ${reason}: shutting down; refusing new requests, waiting for ${waiting} and ${plural(tasksAtStart, 'task')} (${limit})`,
  )

  const [sent, drained] = await Promise.all([deadline.race(responses), drainTasks({ timeout: deadline.remaining() })])
  const finished = [...drained.finished]
  let unfinished = drained.unfinished
  // Requests that were still on their way to the middleware hand off their work after the first drain.
  while (unfinished.length === 0 && pendingTasks().length > 0 && !deadline.passed) {
    const more = await drainTasks({ timeout: deadline.remaining() })
    finished.push(...more.finished)
    unfinished = more.unfinished
  }
  if (unfinished.length === 0) unfinished = pendingTasks().map((t) => t.name)
  deadline.clear()
  const responsesFinished = sent !== DEADLINE
  // Counted before they are cut: afterwards the runtime no longer knows them.
  const cut = responsesFinished ? 0 : server.inFlight()
  if (!responsesFinished) server.force()
  const duration = performance.now() - started
  const ok = responsesFinished && unfinished.length === 0
  const parts = [`finished ${plural(finished.length, 'task')} in ${Math.round(duration)} ms`]
  if (unfinished.length > 0) parts.push(`not finished: ${formatNames(unfinished)}`)
  if (!responsesFinished) {
    parts.push(
      `${cut === undefined ? 'some responses were' : `${plural(cut, 'response')} ${cut === 1 ? 'was' : 'were'}`} still in flight at the deadline`,
    )
  }
  if (exit) parts.push(`exiting with code ${ok ? 0 : 1}`)
  log(`[background-tasks] ${reason}: ${parts.join('; ')}`)
  return { reason, finished, unfinished, responsesFinished, ok, duration }
}
