import type { Context } from 'hono'
import { denoCompleted, nodeOutgoing } from './lifetime.ts'

/** A response and the promise that settles once it has been sent (or the client went away). */
export interface Watched {
  readonly response: Response | undefined
  readonly finished: Promise<void>
  /** The body was wrapped: the work waits for it to be read to the end or cancelled. */
  readonly wrapped: boolean
}

const afterHandOver = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0))

const noop = (): void => {}

// Statuses whose body is never sent: nothing would ever read a wrapped body.
const NO_BODY = new Set([101, 103, 204, 205, 304])

/** Re-serves `res`'s body through a stream that tells when its last chunk was read, or it was cancelled. */
const watchBody = (res: Response, body: ReadableStream<Uint8Array>): Watched => {
  let done = noop
  const finished = new Promise<void>((resolve) => {
    done = resolve
  })
  const reader = body.getReader()
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await reader.read()
        if (chunk.done) {
          controller.close()
          done()
        } else controller.enqueue(chunk.value)
      } catch (error) {
        controller.error(error)
        done()
      }
    },
    cancel(reason) {
      done()
      return reader.cancel(reason)
    },
  })
  return { response: new Response(stream, res), finished, wrapped: true }
}

/**
 * When `res` counts as finished (DESIGN.md point 1): Node's `finish`/`close`, Deno's
 * `info.completed`, else the last chunk of the body (or a cancel), else the hand-over.
 * `canWrap` is false once the response has left the middleware.
 */
export const watchResponse = (c: Context, res: Response | undefined, canWrap: boolean): Watched => {
  const outgoing = nodeOutgoing(c.env)
  if (outgoing) {
    const finished =
      outgoing.writableFinished || outgoing.destroyed
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            outgoing.once('finish', resolve)
            outgoing.once('close', resolve)
          })
    return { response: res, finished, wrapped: false }
  }
  const completed = denoCompleted(c.env)
  if (completed) return { response: res, finished: Promise.resolve(completed).then(noop, noop), wrapped: false }
  const body = res?.body
  if (!canWrap || !res || !body || c.req.method === 'HEAD' || NO_BODY.has(res.status) || (res as { webSocket?: unknown }).webSocket) {
    return { response: res, finished: afterHandOver(), wrapped: false }
  }
  return watchBody(res, body)
}
