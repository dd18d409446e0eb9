import type { Context } from 'hono'
import { denoCompleted, nodeOutgoing } from './lifetime.ts'
import { markWatched } from './settled.ts'

const PENDING = Symbol('pending')

// Statuses whose body is never sent: nothing would ever read a wrapped body.
const NO_BODY = new Set([101, 103, 204, 205, 304])

const concat = (chunks: Uint8Array[]): Uint8Array => {
  if (chunks.length === 1) return chunks[0] as Uint8Array
  const bytes = new Uint8Array(chunks.reduce((size, chunk) => size + chunk.byteLength, 0))
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return bytes
}

/**
 * Re-serves a streamed body, starting with the chunks already read, through a stream that tells
 * when its last chunk was read or it was cancelled.
 */
const watchStream = (
  res: Response,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  chunks: Uint8Array[],
  pending: Promise<ReadableStreamReadResult<Uint8Array>>,
  start: () => void,
): Response => {
  // A turn later, so that the runtime has written the last chunk out before the tasks start.
  const done = () => setTimeout(start, 0)
  let next: Promise<ReadableStreamReadResult<Uint8Array>> | undefined = pending
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = chunks.shift()
      if (chunk) return controller.enqueue(chunk)
      try {
        const result = await (next ?? reader.read())
        next = undefined
        if (result.done) {
          controller.close()
          done()
        } else controller.enqueue(result.value)
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
  return markWatched(new Response(stream, res))
}

/**
 * Tells a buffered body from a streamed one by what it has delivered within one turn of the
 * event loop. A buffered body comes back as bytes, so it keeps its Content-Length, and its tasks
 * start once it is handed over; a streamed one is watched to its last chunk (DESIGN.md point 1).
 */
const watchBody = async (res: Response, body: ReadableStream<Uint8Array>, start: () => void): Promise<Response> => {
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let timer: ReturnType<typeof setTimeout> | undefined
  const turn = new Promise<typeof PENDING>((resolve) => {
    timer = setTimeout(resolve, 0, PENDING)
  })
  let next = reader.read()
  try {
    for (;;) {
      const result = await Promise.race([next, turn])
      if (result === PENDING) break
      if (result.done) {
        if (timer !== undefined) clearTimeout(timer)
        setTimeout(start, 0)
        return new Response(concat(chunks) as Uint8Array<ArrayBuffer>, res)
      }
      chunks.push(result.value)
      next = reader.read()
    }
  } catch {
    // An erroring body: the watched stream passes the error on to whoever reads it.
  }
  return watchStream(res, reader, chunks, next, start)
}

/**
 * Calls `start` once `res` is finished (DESIGN.md point 1) and returns the response to send:
 * Node's `close` (it follows `finish`, and comes alone when the client went away; `on`, since
 * `once` costs a wrapper and the response is discarded), Deno's `info.completed`, else the
 * hand-over of a buffered body or the last chunk (or a cancel) of a streamed one. `canWrap` is
 * false once the response has left the middleware.
 */
export const whenFinished = (
  c: Context,
  res: Response | undefined,
  canWrap: boolean,
  start: () => void,
): Response | undefined | Promise<Response> => {
  const outgoing = nodeOutgoing(c.env)
  if (outgoing) {
    if (outgoing.destroyed || outgoing.closed) queueMicrotask(start)
    else
      outgoing.on('close', () => {
        // Cut short (the client went away): a turn later, so that the app's stream hears of it first.
        if (outgoing.writableFinished) start()
        else setTimeout(start, 0)
      })
    return res
  }
  const completed = denoCompleted(c.env)
  if (completed) {
    completed.then(start, start)
    return res
  }
  const body = res?.body
  if (
    !canWrap ||
    !res ||
    !body ||
    body.locked ||
    res.bodyUsed ||
    c.req.method === 'HEAD' ||
    NO_BODY.has(res.status) ||
    (res as { webSocket?: unknown }).webSocket
  ) {
    setTimeout(start, 0)
    return res
  }
  return watchBody(res, body, start)
}
