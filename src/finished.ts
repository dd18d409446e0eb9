import type { Context } from 'hono'
import { denoCompleted, nodeOutgoing } from './lifetime.ts'
import { markWatched } from './settled.ts'

/**
 * How much of a body the middleware reads ahead, at most, to tell a buffered body from a streamed
 * one; it stops at the chunk that reaches it. Past it, the body is passed on as its consumer pulls it.
 */
const PEEK_LIMIT = 64 * 1024

/** A buffered body arrives in a chunk or a few; more reads than this and it is treated as a stream. */
const PEEK_READS = 16

const PENDING = Symbol('pending')

// Statuses whose body is never sent: nothing would ever read a wrapped body.
const NO_BODY = new Set([101, 103, 204, 205, 304])

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

/**
 * Passes a streamed body on one chunk per pull of its consumer (a high-water mark of 0 reads
 * nothing ahead), after the chunks the peek has read (`peeked`, at most `PEEK_LIMIT` bytes), and
 * tells when its last chunk was read or it was cancelled. `reader` is a BYOB reader on workerd where
 * the body is a byte stream of small chunks (`byteReads`).
 */
const watchStream = (init: ResponseInit, reader: Reader, peeked: readonly Uint8Array[], start: () => void): Response => {
  const read = reader.bytes ? byteReads(reader.bytes) : () => reader.chunks.read()
  // A turn later, so that the runtime has written the last chunk out before the tasks start.
  const done = () => setTimeout(start, 0)
  let next = 0
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (next < peeked.length) return controller.enqueue(peeked[next++] as Uint8Array)
        try {
          const result = await read()
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
        return (reader.bytes ?? reader.chunks).cancel(reason)
      },
    },
    { highWaterMark: 0 },
  )
  return markWatched(new Response(stream, init))
}

/**
 * Reads of a byte stream into a `PEEK_LIMIT` buffer. A read that filled half of it or more hands the
 * buffer on and the next read gets a new one; a shorter one is copied out and the buffer reused, so
 * that a small chunk does not keep 64 KiB alive downstream.
 */
const byteReads = (reader: ReadableStreamBYOBReader): (() => Promise<ReadableStreamReadResult<Uint8Array>>) => {
  let buffer = new ArrayBuffer(PEEK_LIMIT)
  return async () => {
    const result = await reader.read(new Uint8Array(buffer))
    if (result.done) return result
    if (result.value.byteLength >= PEEK_LIMIT / 2) {
      buffer = new ArrayBuffer(PEEK_LIMIT)
      return result
    }
    buffer = result.value.buffer as ArrayBuffer
    return { done: false, value: result.value.slice() }
  }
}

/**
 * workerd, where a buffered body comes out of its byte stream in 4 KiB chunks, each costing a turn of
 * the isolate. Elsewhere BYOB reads are not worth their risk: through the peek's tee, a hand-written
 * byte source that closes without `respond(0)` (the Streams spec asks for it; many skip it) would
 * leave a BYOB read pending forever, where a default read ends.
 */
const BYOB_PAYS = (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === 'Cloudflare-Workers'

type Reader =
  | { bytes: ReadableStreamBYOBReader; chunks?: undefined }
  | { bytes?: undefined; chunks: ReadableStreamDefaultReader<Uint8Array> }

/** A BYOB reader of `body` on workerd where it is a byte stream (its own bodies are), else a default one. */
const readerOf = (body: ReadableStream<Uint8Array>): Reader => {
  if (BYOB_PAYS) {
    try {
      return { bytes: body.getReader({ mode: 'byob' }) }
    } catch {
      // A stream made in JavaScript: not a byte stream.
    }
  }
  return { chunks: body.getReader() }
}

/**
 * Tells a buffered body from a streamed one by what a clone of it delivers before the event loop
 * turns, reading no more than `PEEK_LIMIT` bytes or `PEEK_READS` chunks: a stream whose chunks are
 * ready at once would otherwise be read whole. A body that ended within that is sent as the app
 * made it, untouched (its type, its Content-Length), and its tasks start once it is handed over;
 * any other is watched to its last chunk (DESIGN.md point 1), at most `PEEK_LIMIT` bytes held.
 */
const watchBody = async (res: Response, headers: Headers, clone: ReadableStream<Uint8Array>, start: () => void): Promise<Response> => {
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
      // branch is dropped; no BYOB reader is tried (a failed one costs a thrown TypeError, 45-65 µs
      // on workerd and edge-runtime), as large chunks gain nothing from it.
      clearTimeout(timer)
      ;(res.body as ReadableStream<Uint8Array>).cancel().catch(() => {})
      return watchStream(initOf(res, headers), { chunks: probe }, peeked, start)
    }
  } catch {
    // An erroring body: the watched stream passes the error on to whoever reads it.
  }
  clearTimeout(timer)
  // Small chunks, a read still pending or an error: only the clone is cancelled, and the original
  // goes on from where its source is, its branch holding what the clone has read. (Reading on from
  // the clone here instead cost Bun 1.56x bare's memory with 200 stalled clients of a buffered body,
  // not 1.38x, and workerd 2.2x the latency for others, not 1.04x.)
  probe.cancel().catch(() => {})
  return watchStream(initOf(res, headers), readerOf(res.body as ReadableStream<Uint8Array>), [], start)
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
  return watchBody(res, headers, clone, start)
}
