import type { Context } from 'hono'
import { markWatched } from '../response-tags.ts'
import { streamedBody } from './body-notes.ts'

/**
 * How much of a body the middleware reads ahead, at most, to tell a buffered body from a streamed
 * one; it stops at the chunk that reaches it. Past it, the body is passed on as its consumer pulls it.
 */
export const PEEK_LIMIT = 64 * 1024

/** A buffered body arrives in a chunk or a few; more reads than this and it is treated as a stream. */
const PEEK_READS = 16

const PENDING = Symbol('pending')

// Statuses whose body is never sent: nothing would ever read a wrapped body.
const NO_BODY = new Set([101, 103, 204, 205, 304])

/** How the watched stream reads the body on: the next chunk, and cancelling it. */
export interface BodyReader {
  read(): Promise<ReadableStreamReadResult<Uint8Array>>
  cancel(reason?: unknown): Promise<void>
}

/** Opens a reader on a body that is not locked; a runtime may read it its own way (workerd: BYOB). */
export type OpenReader = (body: ReadableStream<Uint8Array>) => BodyReader

/** The default reader, read as it is. */
export const defaultReader: OpenReader = (body) => body.getReader()

/**
 * The init of a response that sends another body with `res`'s status and headers. `headers` was
 * read before anything else: @hono/node-server's Response, once it has replaced the global one,
 * fills in a default Content-Type when its headers are first read, and another one once it is cloned.
 */
const initOf = (res: Response, headers: Headers): ResponseInit => {
  const init: ResponseInit & { cf?: unknown } = { status: res.status, statusText: res.statusText, headers }
  // workerd: the metadata a fetch() result carries.
  const { cf } = res as { cf?: unknown }
  if (cf !== undefined) init.cf = cf
  return init
}

/** Whether a response has a body that will be sent, and so could be watched: not a HEAD, a 204 or a WebSocket upgrade. */
const sendsBody = (c: Context, res: Response): boolean =>
  c.req.method !== 'HEAD' && !NO_BODY.has(res.status) && !(res as { webSocket?: unknown }).webSocket

/**
 * Passes a streamed body on one chunk per pull of its consumer (a high-water mark of 0 reads
 * nothing ahead), after the chunks already read (`peeked`, at most `PEEK_LIMIT` bytes), and calls
 * `start` once its last chunk was read, it errored, or its consumer cancelled it.
 */
const watchStream = (init: ResponseInit, reader: BodyReader, peeked: readonly Uint8Array[], start: () => void): Response => {
  // A turn later, so that the runtime has written the last chunk out before the tasks start.
  const done = () => setTimeout(start, 0)
  let next = 0
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (next < peeked.length) return controller.enqueue(peeked[next++] as Uint8Array)
        try {
          const result = await reader.read()
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
 * Tells a buffered body from a streamed one by what a clone of it delivers before the event loop
 * turns, reading no more than `PEEK_LIMIT` bytes or `PEEK_READS` chunks: a stream whose chunks are
 * ready at once would otherwise be read whole. A body that ended within that is sent as the app
 * made it, untouched (its type, its Content-Length), and its tasks start once it is handed over;
 * any other is watched to its last chunk, at most `PEEK_LIMIT` bytes held.
 */
const peekBody = async (
  res: Response,
  headers: Headers,
  clone: ReadableStream<Uint8Array>,
  start: () => void,
  openReader: OpenReader,
): Promise<Response> => {
  const probe = clone.getReader()
  const peeked: Uint8Array[] = []
  let size = 0
  let timer!: ReturnType<typeof setTimeout>
  const turn = new Promise<typeof PENDING>((resolve) => {
    timer = setTimeout(resolve, 0, PENDING)
  })
  try {
    while (size < PEEK_LIMIT && peeked.length < PEEK_READS) {
      const result = await Promise.race([probe.read(), turn])
      if (result === PENDING) break
      if (result.done) {
        clearTimeout(timer)
        setTimeout(start, 0)
        // @hono/node-server's Response swaps its headers for another set, with another default
        // Content-Type, once it is cloned: it goes out with the headers it had.
        return res.headers === headers ? res : new Response(res.body, initOf(res, headers))
      }
      peeked.push(result.value)
      size += result.value.byteLength
    }
    if (peeked.length === 1 && size >= PEEK_LIMIT) {
      // A first chunk that reached the limit: a stream of large chunks. It goes on from the clone's
      // reader with that chunk in hand, so its first read needs no further hop, and the original's
      // branch is dropped; no runtime reader is opened (a failed BYOB attempt costs a thrown
      // TypeError), as large chunks gain nothing from one.
      clearTimeout(timer)
      ;(res.body as ReadableStream<Uint8Array>).cancel().catch(() => {})
      return watchStream(initOf(res, headers), probe, peeked, start)
    }
  } catch {
    // An erroring body: the watched stream passes the error on to whoever reads it.
  }
  clearTimeout(timer)
  // Small chunks, a read still pending or an error: only the clone is cancelled, and the original
  // goes on from where its source is, its branch holding what the clone has read. Reading on from
  // the clone instead costs memory with stalled clients (bench/analysis.md, "Streamed bodies and slow clients").
  probe.cancel().catch(() => {})
  return watchStream(initOf(res, headers), openReader(res.body as ReadableStream<Uint8Array>), [], start)
}

/**
 * The web platforms' way to see a response finished, where the runtime says nothing of it: a
 * buffered body is sent untouched and its tasks start once it is handed over; a streamed body is
 * passed through a pull-based wrapper that starts them after its last chunk (or a cancel).
 * Which of the two a body is comes from the Context's notes (`noteResponses`), else from a peek.
 * `openReader` reads the original body on, as the runtime reads best.
 */
export const watchWebResponse = (
  c: Context,
  res: Response | undefined,
  canWrap: boolean,
  start: () => void,
  openReader: OpenReader,
): Response | undefined | Promise<Response> => {
  const streamed = res && streamedBody(res)
  if (!canWrap || !res || !sendsBody(c, res) || streamed === false) {
    setTimeout(start, 0)
    return res
  }
  const headers = res.headers
  if (streamed && res.body && !res.body.locked) {
    return watchStream(initOf(res, headers), openReader(res.body), [], start)
  }
  // The body is read through a clone: on Bun, reading `res.body` itself turns a string body into
  // bytes, which then go out as application/octet-stream.
  let clone: ReadableStream<Uint8Array> | null = null
  try {
    if (!res.bodyUsed) clone = res.clone().body
  } catch {
    // A locked body cannot be cloned: whoever holds it reads it.
  }
  if (!clone) {
    setTimeout(start, 0)
    return res
  }
  return peekBody(res, headers, clone, start, openReader)
}
