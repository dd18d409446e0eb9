import type { Context } from 'hono'
import type { RuntimeAdapter, StoppableServer } from './adapter.ts'
import { defaultReader, initOf, sendsBody, watchStream, watchWebResponse } from './web-body.ts'

/** Whether this process is Bun: decided once per process. */
export const isBun = (): boolean => typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined'

/** On a response the Context made after the request's first task: whether its body is a stream. */
const STREAMED = Symbol('streamed')

type Noted = Response & { [STREAMED]?: boolean }

const noted = (res: Response, streamed: boolean): Response => {
  ;(res as Noted)[STREAMED] = streamed
  return res
}

type Make = (...args: unknown[]) => Response | Promise<Response>

const isStream = (args: unknown[]): boolean => args[0] instanceof ReadableStream
const never = (): boolean => false

/** Hono's response makers, and how each one's body kind is read from its arguments. */
const MAKERS = [
  ['body', isStream],
  // `stream()` and `streamSSE()` go through it.
  ['newResponse', isStream],
  ['text', never],
  ['json', never],
  ['html', never],
] as const

/**
 * Notes, on each response this request's Context makes from now on, whether its body is a stream.
 * Bun cannot be asked afterwards without a cost: reading `res.body` turns a string body into bytes
 * that go out as application/octet-stream, and a clone tees the body, which holds memory for a
 * client that stalls.
 */
const noteResponses = (c: Context): void => {
  const context = c as unknown as Record<(typeof MAKERS)[number][0], Make>
  for (const [name, streams] of MAKERS) {
    const make = context[name]
    if (typeof make !== 'function') continue
    context[name] = (...args) => {
      const made = make.apply(c, args)
      return made instanceof Promise ? made.then((res) => noted(res, streams(args))) : noted(made, streams(args))
    }
  }
}

/**
 * Bun (`Bun.serve`): nothing keeps a promise alive, so the in-process runner does. Bun says when a
 * streamed body is done with: it cancels a pulled wrapper when the client leaves, even before its
 * first pull, so the wrapper's end or cancel is the signal and `req.signal` adds nothing. For a
 * buffered body there is no per-response signal at all (Bun 1.4.5), so it goes out untouched and
 * its tasks start once it is handed over. Which of the two a response is, is noted as the Context
 * makes it (`noteResponses`); a response it did not make (`new Response()` in a handler, a fetch()
 * result) is told by the web platforms' peek. An app may pass an ExecutionContext of its own to
 * `app.fetch()`, so it is looked for.
 */
export const bun: RuntimeAdapter = {
  name: 'bun',
  hasExecutionCtx: true,
  onFirstTask: noteResponses,
  whenFinished(c, res, canWrap, start) {
    const streamed = (res as Noted | undefined)?.[STREAMED]
    if (streamed === undefined || res?.bodyUsed) return watchWebResponse(c, res, canWrap, start, defaultReader)
    const body = streamed && canWrap && sendsBody(c, res as Response) ? (res as Response).body : null
    if (!body || body.locked) {
      setTimeout(start, 0)
      return res
    }
    const headers = (res as Response).headers
    return watchStream(initOf(res as Response, headers), body.getReader(), [], start)
  },
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
