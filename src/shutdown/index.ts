import { pendingTasks } from '../registry.ts'
import { checkBoolean, checkOptionsObject, checkTimeout, describeValue } from '../validate.ts'
import { formatNames, type ShutdownReport, stopAndDrain } from './drain.ts'
import { type ShutdownServer, type StoppableServer, stoppable } from './server.ts'

export type { BunServerLike } from '../runtime/bun.ts'
export type { DenoServerLike } from '../runtime/deno.ts'
export type { NodeServerLike } from '../runtime/node.ts'
export type { ShutdownReport } from './drain.ts'
export type { ShutdownServer } from './server.ts'

const API = 'gracefulShutdown'
const KNOWN = ['timeout', 'signals', 'log', 'exit'] as const

/** Options of `gracefulShutdown()`. */
export interface GracefulShutdownOptions {
  /**
   * Milliseconds from the signal to give up, for the responses in flight and the tasks together,
   * or `false` to wait for everything. The default leaves 2 s of the 10 s that `docker stop` and
   * Cloud Run give before SIGKILL to log what did not finish.
   * @default 8_000
   */
  timeout?: number | false
  /** Signals that start the shutdown. A second one while it runs exits at once with code 1 (unless `exit` is off). @default ['SIGTERM', 'SIGINT'] */
  signals?: readonly string[]
  /** Where the two lines of the shutdown go (start, and what finished or not), or `false` for nowhere. @default console.error */
  log?: ((line: string) => void) | false
  /**
   * End the process afterwards: code 0 when everything finished, 1 when a task or a response did not.
   * With `false`, the returned promise tells, and the signal listeners are removed once it is done.
   * @default true
   */
  exit?: boolean
}

/** What `gracefulShutdown()` returns. */
export interface GracefulShutdown {
  /**
   * Starts the shutdown now, as a signal would, and resolves with its report (before the exit,
   * when `exit` is on). Later calls, and signals, get the same shutdown.
   */
  shutdown(reason?: string): Promise<ShutdownReport>
  /** Whether a shutdown has started: from then on, new requests are refused. */
  readonly draining: boolean
  /** Removes the signal listeners and, if no shutdown has started, unwraps the server. */
  dispose(): void
}

interface ProcessLike {
  on(signal: string, listener: (signal: string) => void): unknown
  removeListener(signal: string, listener: (signal: string) => void): unknown
  exit(code: number): void
}

const installed = new WeakSet<object>()

const checkSignals = (value: unknown): readonly string[] => {
  const what = '`signals` to be an array of signal names such as "SIGTERM"'
  if (!Array.isArray(value)) throw new TypeError(`${API}: expected ${what}, got ${describeValue(value)}`)
  for (const signal of value) {
    if (typeof signal !== 'string' || !/^SIG[A-Z0-9]+$/.test(signal)) {
      throw new TypeError(`${API}: expected ${what}, got ${describeValue(signal)} in it`)
    }
  }
  return value
}

/**
 * Shuts the server down without losing work when the platform stops the process (a deploy's
 * SIGTERM, Ctrl-C): refuses new requests (503 with `Connection: close` on connections kept alive,
 * connection refused on new ones), lets the responses in flight finish, drains the background
 * tasks up to a deadline, logs by name what did not finish, and exits with 0, or 1 if anything was
 * left behind. Works with the server of @hono/node-server's `serve()`, `Bun.serve()` and
 * `Deno.serve()`. Call it once, right after starting the server.
 * @example
 * import { serve } from '@hono/node-server'
 * import { gracefulShutdown } from 'hono-background-tasks/shutdown'
 *
 * const server = serve({ fetch: app.fetch, port: 3000 })
 * gracefulShutdown(server, { timeout: 8_000 })
 * // SIGTERM -> "[background-tasks] SIGTERM: finished 12 tasks in 40 ms; exiting with code 0"
 * @example
 * // Bun: gracefulShutdown(Bun.serve({ fetch: app.fetch }))
 * // Deno: gracefulShutdown(Deno.serve(app.fetch))
 */
export const gracefulShutdown = (server: ShutdownServer, options: GracefulShutdownOptions = {}): GracefulShutdown => {
  checkOptionsObject(API, options, KNOWN)
  const { timeout = 8_000, signals = ['SIGTERM', 'SIGINT'], log = (line: string) => console.error(line), exit = true } = options
  checkTimeout(API, 'timeout', timeout)
  checkSignals(signals)
  if (log !== false && typeof log !== 'function') {
    throw new TypeError(`${API}: expected \`log\` to be a function or \`false\`, got ${describeValue(log)}`)
  }
  checkBoolean(API, 'exit', exit)
  const proc = (globalThis as { process?: ProcessLike }).process as ProcessLike
  if (typeof proc?.on !== 'function' || typeof proc.exit !== 'function') {
    throw new Error(`${API}: there is no \`process\` global to listen for signals on; this helper is for Node, Bun and Deno 2`)
  }
  if (typeof server === 'object' && server !== null && installed.has(server)) {
    throw new Error(`${API}: already installed for this server; call it once per server`)
  }
  const target: StoppableServer = stoppable(API, server)
  installed.add(server)
  const print = (line: string): void => {
    if (log === false) return
    try {
      log(line)
    } catch {
      // A broken logger must not stop the shutdown.
    }
  }

  let running: Promise<ShutdownReport> | undefined
  const listening = [...new Set(signals)]
  const removeListeners = (): void => {
    for (const signal of listening) proc.removeListener(signal, onSignal)
  }
  const shutdown = (reason = 'shutdown()'): Promise<ShutdownReport> => {
    if (running) return running
    running = stopAndDrain(target, { timeout, log: print, reason, exit }).then(
      (report) => {
        if (exit) proc.exit(report.ok ? 0 : 1)
        else removeListeners()
        return report
      },
      (error: unknown) => {
        // Not expected: stopAndDrain never rejects. Still, a shutdown must end.
        console.error(`[background-tasks] ${reason}: the shutdown failed:`, error)
        if (exit) proc.exit(1)
        throw error
      },
    )
    return running
  }
  function onSignal(signal: string): void {
    if (!running) {
      shutdown(signal).catch(() => {})
      return
    }
    if (!exit) return
    const left = pendingTasks().map((t) => t.name)
    const names = left.length > 0 ? `; not finished: ${formatNames(left)}` : ''
    print(`[background-tasks] ${signal} again: not waiting any longer${names}; exiting with code 1`)
    proc.exit(1)
  }
  for (const signal of listening) proc.on(signal, onSignal)

  return {
    shutdown,
    get draining() {
      return running !== undefined
    },
    dispose() {
      removeListeners()
      if (!running) {
        target.dispose()
        installed.delete(server)
      }
    },
  }
}
