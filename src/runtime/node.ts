import type { RuntimeAdapter, StoppableServer } from './adapter.ts'

/** The part of Node's `ServerResponse` the library reads, typed here to keep `node:` out. */
export interface NodeOutgoing {
  readonly writableFinished: boolean
  readonly closed: boolean
  readonly destroyed: boolean
  on(event: 'close', listener: () => void): unknown
}

/** @hono/node-server passes `{ incoming, outgoing }`; `outgoing` is the `ServerResponse`. */
export const nodeOutgoing = (env: unknown): NodeOutgoing | undefined => {
  const outgoing = (env as { outgoing?: NodeOutgoing } | undefined)?.outgoing
  return typeof outgoing?.on === 'function' ? outgoing : undefined
}

/**
 * Node (@hono/node-server): the `ServerResponse`'s `close`. It follows `finish`, and comes alone
 * when the client went away; `on`, since `once` costs a wrapper and the response is discarded.
 * The response passes through untouched.
 */
export const node: RuntimeAdapter = {
  name: 'node',
  hasExecutionCtx: false,
  whenFinished(c, res, _canWrap, start) {
    const outgoing = nodeOutgoing(c.env) as NodeOutgoing
    if (outgoing.destroyed || outgoing.closed) queueMicrotask(start)
    else
      outgoing.on('close', () => {
        // Cut short (the client went away): a turn later, so that the app's stream hears of it first.
        if (outgoing.writableFinished) start()
        else setTimeout(start, 0)
      })
    return res
  },
}

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

/** Whether `value` looks like the server @hono/node-server's `serve()` returns. */
export const isNodeServer = (value: object): value is NodeServerLike =>
  typeof (value as NodeServerLike).close === 'function' &&
  typeof (value as NodeServerLike).listeners === 'function' &&
  typeof (value as NodeServerLike).on === 'function' &&
  typeof (value as NodeServerLike).removeListener === 'function'

const REFUSED = 'Service Unavailable: the server is shutting down\n'

/**
 * Node's side of the shutdown. It wraps the server's request listeners: while draining, a request
 * that reaches the server (a new one on a kept-alive connection, or one pipelined behind a
 * response in flight) gets a 503 with `Connection: close` and never reaches the app. The wrapper
 * also counts the responses in flight.
 */
export const nodeServer = (server: NodeServerLike): StoppableServer => {
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
