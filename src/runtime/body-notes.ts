import type { Context } from 'hono'

/** On a response the Context made after the request's first task: whether its body is a stream. */
const STREAMED = Symbol('streamed')

type Noted = Response & { [STREAMED]?: boolean }

const noted = (res: Response, streamed: boolean | undefined): Response => {
  if (streamed !== undefined) (res as Noted)[STREAMED] = streamed
  return res
}

type Make = (...args: unknown[]) => Response | Promise<Response>

/**
 * The kind of body `c.body(data)` makes: `true` for a stream (of another realm too: a buffered guess
 * there would start tasks too early), `false` for bytes or a string that the Response holds whole,
 * `undefined` for anything the runtime may stream on its own (a Blob such as `Bun.file()`, FormData,
 * an iterable): no note, so the peek decides.
 */
const kindOf = (args: unknown[]): boolean | undefined => {
  const data = args[0]
  if (data instanceof ReadableStream || typeof (data as { getReader?: unknown } | null)?.getReader === 'function') return true
  if (data == null || typeof data === 'string' || data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return false
  return undefined
}
const buffered = (): boolean => false

/** Hono's response makers, and how each one's body kind is read from its arguments. */
const MAKERS = [
  ['body', kindOf],
  // `stream()` and `streamSSE()` go through it.
  ['newResponse', kindOf],
  // These make a string body, whatever they are given.
  ['text', buffered],
  ['json', buffered],
  ['html', buffered],
] as const

/**
 * Notes, on each response this request's Context makes from now on, whether its body is a stream,
 * so that `watchWebResponse` need not find out: by a clone (which tees the body and, with a
 * client that stalls, holds memory) and a peek (which may mistake a large buffered body for a
 * stream and pump it through JavaScript). Called at the request's first task.
 */
export const noteResponses = (c: Context): void => {
  const context = c as unknown as Record<(typeof MAKERS)[number][0], Make>
  try {
    for (const [name, streams] of MAKERS) {
      const make = context[name]
      if (typeof make !== 'function') continue
      context[name] = (...args) => {
        const made = make.apply(c, args)
        return made instanceof Promise ? made.then((res) => noted(res, streams(args))) : noted(made, streams(args))
      }
    }
  } catch {
    // A Context that cannot be written to (frozen by an app, say): its responses get the peek.
  }
}

/** What the Context noted of `res`: `true` for a streamed body, `false` for a buffered one, `undefined` when it did not make it. */
export const streamedBody = (res: Response): boolean | undefined => (res as Noted)[STREAMED]
