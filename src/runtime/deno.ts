import type { RuntimeAdapter, StoppableServer } from './adapter.ts'

/** `Deno.serve(app.fetch)` passes `ServeHandlerInfo`, whose `completed` settles once the response is sent. */
export const denoCompleted = (env: unknown): PromiseLike<void> | undefined => {
  const completed = (env as { completed?: PromiseLike<void> } | undefined)?.completed
  return typeof completed?.then === 'function' ? completed : undefined
}

/**
 * Deno (`Deno.serve`): `info.completed`, which settles once the response is sent, and also when
 * the client went away mid-stream. The response passes through untouched.
 */
export const deno: RuntimeAdapter = {
  name: 'deno',
  hasExecutionCtx: false,
  whenFinished(c, res, _canWrap, start) {
    ;(denoCompleted(c.env) as PromiseLike<void>).then(start, start)
    return res
  },
}

/** The part of `Deno.serve()`'s server that the shutdown uses. */
export interface DenoServerLike {
  shutdown(): Promise<void>
}

/** Deno's side of the shutdown. */
export const denoServer = (server: DenoServerLike): StoppableServer => ({
  // Deno closes the listener, answers in-flight requests with `Connection: close`, then resolves.
  stop: () => server.shutdown(),
  inFlight: () => undefined,
  force() {},
  dispose() {},
})
