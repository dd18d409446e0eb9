import type { Context } from 'hono'
import { denoCompleted, nodeOutgoing } from './lifetime.ts'
import { markWatched } from './settled.ts'

/**
 * The most of a body the middleware reads ahead to tell a buffered body from a streamed one.
 * It never holds more: past it, the body is passed on as its consumer pulls it.
 */
export const PEEK_LIMIT = 64 * 1024

/** A buffered body arrives in a chunk or a few; more reads than this and it is treated as a stream. */
const PEEK_READS = 16

const PENDING = Symbol('pending')

// Statuses whose body is never sent: nothing would ever read a wrapped body.
const NO_BODY = new Set([101, 103, 204, 205, 304])

/**
 * The init of a response that sends another body with `res`'s status and headers. `headers` was
 * read before the body: @hono/node-server's Response, once it has replaced the global one, fills
 * in a default Content-Type when its headers are first read, and another one once its body was.
 */
const initOf = (res: Response, headers: Headers): ResponseInit => {
  const init: ResponseInit & { cf?: unknown } = { status: res.status, statusText: res.statusText, headers }
  // workerd: the metadata a fetch() result carries.
  const { cf } = res as { cf?: unknown }
  if (cf !== undefined) init.cf = cf
  return init
}

const concat = (chunks: Uint8Array[], size: number): Uint8Array => {
  if (chunks.length === 1) return chunks[0] as Uint8Array
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return bytes
}

/**
 * Passes a streamed body on, starting with the chunks already read, one chunk per pull of its
 * consumer (a high-water mark of 0 reads nothing ahead), and tells when its last chunk was read or
 * it was cancelled.
 */
const watchStream = (
  init: ResponseInit,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  chunks: Uint8Array[],
  pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined,
  start: () => void,
): Response => {
  // A turn later, so that the runtime has written the last chunk out before the tasks start.
  const done = () => setTimeout(start, 0)
  let next = pending
  const stream = new ReadableStream<Uint8Array>(
    {
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
    },
    { highWaterMark: 0 },
  )
  return markWatched(new Response(stream, init))
}

/**
 * Tells a buffered body from a streamed one by what it delivers before the event loop turns, and
 * never reads more than `PEEK_LIMIT` bytes or `PEEK_READS` chunks for it: a stream whose chunks are
 * ready at once would otherwise be read whole. A body that ended within that comes back as bytes,
 * so it keeps its Content-Length, and its tasks start once it is handed over; any other is watched
 * to its last chunk (DESIGN.md point 1).
 */
const watchBody = async (init: ResponseInit, body: ReadableStream<Uint8Array>, start: () => void): Promise<Response> => {
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  const turn = new Promise<typeof PENDING>((resolve) => {
    timer = setTimeout(resolve, 0, PENDING)
  })
  let next: Promise<ReadableStreamReadResult<Uint8Array>> | undefined = reader.read()
  try {
    while (next) {
      const result = await Promise.race([next, turn])
      if (result === PENDING) break
      if (result.done) {
        clearTimeout(timer)
        setTimeout(start, 0)
        return new Response(concat(chunks, size) as Uint8Array<ArrayBuffer>, init)
      }
      chunks.push(result.value)
      size += result.value.byteLength
      // Past the bound the body is a stream, whatever it is: read nothing more until it is pulled.
      next = size < PEEK_LIMIT && chunks.length < PEEK_READS ? reader.read() : undefined
    }
  } catch {
    // An erroring body: the watched stream passes the error on to whoever reads it.
  }
  clearTimeout(timer)
  return watchStream(init, reader, chunks, next, start)
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
  if (!canWrap || !res || c.req.method === 'HEAD' || NO_BODY.has(res.status) || (res as { webSocket?: unknown }).webSocket) {
    setTimeout(start, 0)
    return res
  }
  const headers = res.headers
  const body = res.body
  if (!body || body.locked || res.bodyUsed) {
    setTimeout(start, 0)
    return res
  }
  return watchBody(initOf(res, headers), body, start)
}
