import { drainTasks, pendingTasks } from './registry.ts'
import { describeValue } from './validate.ts'

/**
 * The part of Node's `http.Server` (what `serve()` from @hono/node-server returns) that the
 * shutdown uses. Typed here so that nothing imports `node:http`.
 */
export interface NodeServerLike {
  close(callback?: (error?: Error) => void): unknown
  listeners(event: 'request'): unknown[]
  // biome-ignore lint/suspicious/noExplicitAny: matches EventEmitter's own listener type, so that every server serve() returns fits.
  on(event: 'request', listener: (...args: any[]) => void): unknown
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  removeListener(event: 'request', listener: (...args: any[]) => void): unknown
  closeIdleConnections?(): void
  closeAllConnections?(): void
}

/** The part of `Bun.serve()`'s server that the shutdown uses. */
export interface BunServerLike {
  stop(closeActiveConnections?: boolean): Promise<void> | void
  readonly pendingRequests?: number
}

/** The part of `Deno.serve()`'s server that the shutdown uses. */
export interface DenoServerLike {
  shutdown(): Promise<void>
}

/** A server `gracefulShutdown()` can stop: @hono/node-server's, Bun's or Deno's. */
export type ShutdownServer = NodeServerLike | BunServerLike | DenoServerLike

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

/** A server as the shutdown drives it, whatever the runtime. */
export interface StoppableServer {
  /** Stops accepting connections and refuses new requests; resolves once the responses in flight are sent. */
  stop(): Promise<void>
  /** How many responses are still in flight, when the runtime tells. */
  inFlight(): number | undefined
  /** At the deadline: cuts the connections that are left. */
  force(): void
  /** Undoes what wrapping the server did, if no shutdown has started. */
  dispose(): void
}

interface NodeRequest {
  readonly httpVersionMajor?: number
  resume?(): void
}

interface NodeResponse {
  readonly headersSent: boolean
  /** `end()` was called: the body may still be on its way to a slow client. */
  readonly writableEnded: boolean
  /** The whole body was handed to the operating system. */
  readonly writableFinished: boolean
  shouldKeepAlive?: boolean
  writeHead(status: number, headers: Record<string, string>): unknown
  end(body: string): unknown
  once(event: 'close', listener: () => void): unknown
}

type RequestListener = (this: unknown, req: NodeRequest, res: NodeResponse) => void

const isNodeServer = (value: object): value is NodeServerLike =>
  typeof (value as NodeServerLike).close === 'function' &&
  typeof (value as NodeServerLike).listeners === 'function' &&
  typeof (value as NodeServerLike).on === 'function' &&
  typeof (value as NodeServerLike).removeListener === 'function'

const REFUSED = 'Service Unavailable: the server is shutting down\n'

/**
 * Wraps the server's request listeners: while draining, a request that reaches the server (a new
 * one on a kept-alive connection, or one pipelined behind a response in flight) gets a 503 with
 * `Connection: close` and never reaches the app. The wrapper also counts the responses in flight.
 */
const nodeServer = (server: NodeServerLike): StoppableServer => {
  const original = server.listeners('request') as RequestListener[]
  const inFlight = new Set<NodeResponse>()
  let draining = false
  let allSent = (): void => {}
  /**
   * Closes the kept-alive connections that wait for a next request, which would otherwise linger
   * for keepAliveTimeout. Node counts a connection whose response has called `end()` as idle even
   * while a slow client is still downloading that body, so it waits until no response is in that state.
   */
  const closeIdle = (): void => {
    for (const res of inFlight) if (res.writableEnded && !res.writableFinished) return
    server.closeIdleConnections?.()
  }
  const listener = function gracefulShutdown(this: unknown, req: NodeRequest, res: NodeResponse): void {
    if (draining) {
      const http1 = (req.httpVersionMajor ?? 1) < 2
      res.writeHead(503, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Retry-After': '1',
        ...(http1 ? { Connection: 'close' } : {}),
      })
      res.end(REFUSED)
      req.resume?.()
      return
    }
    inFlight.add(res)
    res.once('close', () => {
      inFlight.delete(res)
      if (!draining) return
      // A turn later: after 'close' the socket becomes idle.
      setTimeout(closeIdle, 0)
      if (inFlight.size === 0) allSent()
    })
    for (const fn of original) fn.call(this, req, res)
  }
  for (const fn of original) server.removeListener('request', fn)
  server.on('request', listener)
  return {
    stop() {
      draining = true
      // Responses not started yet tell the client this connection ends with them.
      for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false
      const sent = new Promise<void>((resolve) => {
        allSent = resolve
      })
      // http.Server#close() closes the idle connections itself, cutting downloads short as above:
      // it runs here without that step, and closeIdle() does it when it is safe.
      Object.defineProperty(server, 'closeIdleConnections', { value: () => {}, configurable: true })
      try {
        server.close()
      } finally {
        delete (server as { closeIdleConnections?: unknown }).closeIdleConnections
      }
      closeIdle()
      if (inFlight.size === 0) allSent()
      return sent
    },
    inFlight: () => inFlight.size,
    force() {
      server.closeAllConnections?.()
    },
    dispose() {
      if (draining) return
      server.removeListener('request', listener)
      for (const fn of original) server.on('request', fn)
    },
  }
}

const bunServer = (server: BunServerLike): StoppableServer => ({
  // Bun closes the listener and idle keep-alive connections, and resolves once requests in flight are done.
  stop: async () => {
    await server.stop(false)
  },
  inFlight: () => (typeof server.pendingRequests === 'number' ? server.pendingRequests : undefined),
  force() {
    Promise.resolve(server.stop(true)).catch(() => {})
  },
  dispose() {},
})

const denoServer = (server: DenoServerLike): StoppableServer => ({
  // Deno closes the listener, answers in-flight requests with `Connection: close`, then resolves.
  stop: () => server.shutdown(),
  inFlight: () => undefined,
  force() {},
  dispose() {},
})

/** Adapts a Node, Bun or Deno server; throws in the project's one-line style for anything else. */
export const stoppable = (api: string, server: unknown): StoppableServer => {
  if (typeof server === 'object' && server !== null) {
    if (typeof (server as DenoServerLike).shutdown === 'function') return denoServer(server as DenoServerLike)
    if (isNodeServer(server)) return nodeServer(server)
    if (typeof (server as BunServerLike).stop === 'function') return bunServer(server as BunServerLike)
  }
  throw new TypeError(
    `${api}: expected \`server\` to be the server that @hono/node-server's serve(), Bun.serve() or Deno.serve() returned, got ${describeValue(server)}`,
  )
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
  const left = (): number | false => (timeout === false ? false : Math.max(1, started + timeout - performance.now()))
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<'deadline'>((resolve) => {
    if (timeout !== false) timer = setTimeout(resolve, timeout, 'deadline')
  })
  const tasksAtStart = pendingTasks().length
  let stopping: Promise<void>
  try {
    stopping = server.stop()
  } catch (error) {
    stopping = Promise.reject(error)
  }
  const responses = stopping.then(
    () => 'sent' as const,
    (error: unknown) => {
      log(`[background-tasks] ${reason}: stopping the server failed: ${String(error)}`)
      return 'sent' as const
    },
  )
  const open = server.inFlight()
  const waiting = open === undefined ? 'the responses in flight' : plural(open, 'response')
  const limit = timeout === false ? 'no deadline' : `deadline ${timeout} ms`
  log(
    `[background-tasks] ${reason}: shutting down; refusing new requests, waiting for ${waiting} and ${plural(tasksAtStart, 'task')} (${limit})`,
  )

  const [sent, drained] = await Promise.all([Promise.race([responses, deadline]), drainTasks({ timeout: left() })])
  const finished = [...drained.finished]
  let unfinished = drained.unfinished
  // Requests that were still on their way to the middleware hand off their work after the first drain.
  while (unfinished.length === 0 && pendingTasks().length > 0 && (timeout === false || performance.now() < started + timeout)) {
    const more = await drainTasks({ timeout: left() })
    finished.push(...more.finished)
    unfinished = more.unfinished
  }
  if (unfinished.length === 0) unfinished = pendingTasks().map((t) => t.name)
  if (timer !== undefined) clearTimeout(timer)
  const responsesFinished = sent === 'sent'
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
