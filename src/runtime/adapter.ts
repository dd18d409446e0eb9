import type { Context } from 'hono'

/** Hands the request's work to a platform that keeps it alive after the response. */
export type WaitUntil = (promise: Promise<void>) => void

/**
 * Who keeps a request's work alive: a platform `waitUntil`, the in-process runner (Node, Bun,
 * Deno), or nobody after the reply (AWS Lambda freezes), in which case tasks run before it.
 */
export type Lifetime = { kind: 'waitUntil'; source: string; waitUntil: WaitUntil } | { kind: 'in-process' } | { kind: 'before-response' }

/**
 * Calls `start` once `res` is finished (a buffered body handed over, the last chunk of a stream
 * read, or the client gone) and returns the response to send. `canWrap` is false once the
 * response has left the middleware: then nothing may replace it.
 */
export type WhenFinished = (
  c: Context,
  res: Response | undefined,
  canWrap: boolean,
  start: () => void,
) => Response | undefined | Promise<Response>

/** What differs per runtime: how a response's end is seen, and whether a request can carry an ExecutionContext. */
export interface RuntimeAdapter {
  /** `node`, `deno`, `bun`, `workerd` or `edge`: for logs and tests. */
  readonly name: 'node' | 'deno' | 'bun' | 'workerd' | 'edge'
  /** `false` where `c.executionCtx` can only throw: skipping it saves a thrown Error per request. */
  readonly hasExecutionCtx: boolean
  readonly whenFinished: WhenFinished
  /** Called at a request's first `add()`, before the handler makes its response: the web runtimes note how the Context makes it. */
  readonly onFirstTask?: (c: Context) => void
}

/** A server as the shutdown drives it, whatever the runtime; each runtime's file makes its own for `gracefulShutdown()`. */
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
