import type { Context } from 'hono'

/** On a response the Context made after the request's first task: whether its body is a stream. */
const STREAMED = Symbol('streamed')

type Noted = Response & { [STREAMED]?: boolean }

const noted = (res: Response, streamed: boolean): Response => {
  ;(res as Noted)[STREAMED] = streamed
  return res
}

type Make = (...args: unknown[]) => Response | Promise<Response>

// A stream of another realm too (an iframe's, a test runner's): a buffered guess there would start tasks too early.
const isStream = (args: unknown[]): boolean =>
  args[0] instanceof ReadableStream || typeof (args[0] as { getReader?: unknown } | null)?.getReader === 'function'
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
