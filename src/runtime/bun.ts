import type { RuntimeAdapter, StoppableServer } from './adapter.ts'
import { defaultReader, watchWebResponse } from './web-body.ts'

/** Whether this process is Bun: decided once per process. */
export const isBun = (): boolean => typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined'

/**
 * Bun (`Bun.serve`): nothing keeps a promise alive, so the in-process runner does. An app may
 * still pass an ExecutionContext of its own to `app.fetch()`, so it is looked for.
 */
export const bun: RuntimeAdapter = {
  name: 'bun',
  hasExecutionCtx: true,
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
