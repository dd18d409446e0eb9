import type { RuntimeAdapter, StoppableServer } from './adapter.ts'
import { noteResponses } from './body-notes.ts'
import { defaultReader, watchWebResponse } from './web-body.ts'

/** Whether this process is Bun: decided once per process. */
export const isBun = (): boolean => typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined'

/**
 * Bun (`Bun.serve`): nothing keeps a promise alive, so the in-process runner does. A body is
 * watched as on the web platforms (`watchWebResponse`), where the Context's notes spare most
 * responses the clone: on Bun a clone tees the body, which holds memory while a client stalls, and
 * reading `res.body` of a string body turns it into bytes that go out as application/octet-stream.
 * Bun cancels a pulled wrapper when its client leaves, even before the first pull, so the
 * wrapper's end or cancel is the signal and `req.signal` adds nothing. For a buffered body Bun
 * 1.4.5 has no per-response signal: its tasks start once it is handed over. An app may pass an
 * ExecutionContext of its own to `app.fetch()`, so it is looked for.
 */
export const bun: RuntimeAdapter = {
  name: 'bun',
  hasExecutionCtx: true,
  onFirstTask: noteResponses,
  whenFinished: (c, res, canWrap, start) => watchWebResponse(c, res, canWrap, start, defaultReader),
}

/** The part of `Bun.serve()`'s server that the shutdown uses. */
export interface BunServerLike {
  stop(closeActiveConnections?: boolean): Promise<void> | void
  readonly pendingRequests?: number
}

/** Bun's side of the shutdown. */
export const bunServer = (server: BunServerLike): StoppableServer => ({
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
