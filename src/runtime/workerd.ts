import type { RuntimeAdapter } from './adapter.ts'
import { noteResponses } from './body-notes.ts'
import { type BodyReader, defaultReader, PEEK_LIMIT, watchWebResponse } from './web-body.ts'

/** Whether this isolate is workerd (Cloudflare Workers, miniflare, wrangler dev): decided once per isolate. */
export const isWorkerd = (): boolean => (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === 'Cloudflare-Workers'

/**
 * Reads a byte stream into a `PEEK_LIMIT` buffer. A read that filled half of it or more hands the
 * buffer on and the next read gets a new one; a shorter one is copied out and the buffer reused, so
 * that a small chunk does not keep 64 KiB alive downstream.
 */
const byteReader = (reader: ReadableStreamBYOBReader): BodyReader => {
  let buffer = new ArrayBuffer(PEEK_LIMIT)
  return {
    async read() {
      const result = await reader.read(new Uint8Array(buffer))
      if (result.done) return result
      if (result.value.byteLength >= PEEK_LIMIT / 2) {
        buffer = new ArrayBuffer(PEEK_LIMIT)
        return result
      }
      buffer = result.value.buffer as ArrayBuffer
      return { done: false, value: result.value.slice() }
    },
    cancel: (reason) => reader.cancel(reason),
  }
}

/**
 * workerd hands a buffered body out of its byte stream in 4 KiB chunks, each costing a turn of the
 * isolate: BYOB reads take 64 KiB at a time. A stream made in JavaScript is no byte stream and is
 * read as it is. (Elsewhere BYOB reads are not worth their risk: through the peek's tee, a
 * hand-written byte source that closes without `respond(0)` would leave a BYOB read pending forever.)
 */
const openWorkerdReader = (body: ReadableStream<Uint8Array>): BodyReader => {
  try {
    return byteReader(body.getReader({ mode: 'byob' }))
  } catch {
    return defaultReader(body)
  }
}

/**
 * Cloudflare Workers (workerd): `c.executionCtx.waitUntil` keeps the work alive. workerd says
 * nothing of a response being sent (`request.signal` fires only with the `enable_request_signal`
 * compatibility flag, which is the app's to set), so the body is watched: a buffered one is sent
 * untouched, pumped by workerd itself, and its tasks start once it is handed over; a streamed one
 * after its last chunk.
 */
export const workerd: RuntimeAdapter = {
  name: 'workerd',
  hasExecutionCtx: true,
  onFirstTask: noteResponses,
  whenFinished: (c, res, canWrap, start) => watchWebResponse(c, res, canWrap, start, openWorkerdReader),
}
