// Diagnostics for issue 9 point 3 (bench/diag-ttfb.mjs): the 100 MiB pull body of the streaming section through
// each layer of src/runtime/web-body.ts, one route per layer, so that one server per runtime serves them all.
import { Hono } from 'hono'
import { backgroundTasks } from '../../src/index.ts'
import { detectRuntime } from '../../src/runtime/detect.ts'
import { bufferBody, chunkBytes, pullStream } from './bodies.mjs'

const CHUNKS = 1600
const noop = () => {}
const large = (c) => c.body(pullStream(CHUNKS), 200, { 'content-type': 'application/octet-stream' })
const respond = (res, body) => new Response(body, { status: res.status, headers: res.headers })

/** A high-water-mark-0 stream passing `reader`'s chunks on, after `first`, as src/runtime/web-body.ts does. */
const passOn = (reader, first = []) =>
  new ReadableStream(
    {
      start(controller) {
        for (const chunk of first) controller.enqueue(chunk)
      },
      pull(controller) {
        return reader.read().then((r) => (r.done ? controller.close() : controller.enqueue(r.value)))
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  )

/** Settles with the read's result, or with undefined once a setTimeout(0) has fired. */
const raceTurn = async (read) => {
  let timer
  const turn = new Promise((resolve) => {
    timer = setTimeout(resolve, 0)
  })
  const result = await Promise.race([read, turn])
  clearTimeout(timer)
  return result
}

export const createDiagApp = () => {
  const app = new Hono()
  // Bare, twice (the second is the A/A control).
  app.get('/bare', large)
  app.get('/bare2', large)
  // The middleware, without and with a task.
  const mounted = new Hono().use(backgroundTasks()).get('/', large)
  const task = new Hono().use(backgroundTasks()).get('/', (c) => {
    c.var.tasks.add(noop)
    return large(c)
  })
  app.route('/mounted', mounted)
  app.route('/task', task)
  // The runtime's whenFinished() alone (src/runtime/): no task list, no lifetime.
  app.get(
    '/wf',
    async (c, next) => {
      await next()
      const res = await detectRuntime(c.env).whenFinished(c, c.res, true, noop)
      c.res = undefined
      c.res = res
    },
    large,
  )
  // The wrapper alone, over the original body.
  app.get('/wrap', (c) => {
    const res = large(c)
    return respond(res, passOn(res.body.getReader()))
  })
  // The source behind a high-water-mark-0 stream with an async pull (as the wrapper) and with a sync one.
  app.get('/hwm0', () => new Response(passOn(pullStream(CHUNKS).getReader())))
  app.get('/synchwm0', () => {
    let i = 0
    return new Response(new ReadableStream({ pull: (c) => (i < CHUNKS ? c.enqueue(chunkBytes(i++)) : c.close()) }, { highWaterMark: 0 }))
  })
  // The wrapper keeping one read ahead, enqueued synchronously once it is there.
  app.get('/prefetch', (c) => {
    const res = large(c)
    const reader = res.body.getReader()
    let ready
    let next
    const ask = () => {
      next = reader.read().then((r) => {
        ready = r
        return r
      })
    }
    const put = (controller, r) => {
      ready = undefined
      if (r.done) return controller.close()
      controller.enqueue(r.value)
      ask()
    }
    ask()
    const stream = new ReadableStream(
      { pull: (controller) => (ready ? put(controller, ready) : next.then((r) => put(controller, r))), cancel: (e) => reader.cancel(e) },
      { highWaterMark: 0 },
    )
    return respond(res, stream)
  })
  // A failed BYOB reader (the body is not a byte stream): a thrown TypeError.
  app.get('/throw', (c) => {
    const res = large(c)
    try {
      res.body.getReader({ mode: 'byob' })
    } catch {}
    return res
  })
  // The tee: clone, clone cancelled, original sent.
  app.get('/tee', (c) => {
    const res = large(c)
    res.clone().body.cancel()
    return res
  })
  // The peek of the current web-body.ts for a stream, by hand: p0 reads the original, p1 a clone, p2 adds the timer.
  app.get('/p0', async (c) => {
    const res = large(c)
    const reader = res.body.getReader()
    const first = await reader.read()
    return respond(res, passOn(reader, [first.value]))
  })
  app.get('/p1', async (c) => {
    const res = large(c)
    const reader = res.clone().body.getReader()
    const first = await reader.read()
    res.body.cancel()
    return respond(res, passOn(reader, [first.value]))
  })
  app.get('/p2', async (c) => {
    const res = large(c)
    const reader = res.clone().body.getReader()
    const first = await raceTurn(reader.read())
    res.body.cancel()
    return respond(res, passOn(reader, [first.value]))
  })
  // A setTimeout(0) set and cleared.
  app.get('/timerclear', (c) => {
    clearTimeout(setTimeout(noop, 0))
    return large(c)
  })
  // What the peek sees of the 10 MiB buffered body: the sizes it reads, and why it stops.
  app.get('/peekinfo', async (c) => {
    const reader = c.body(bufferBody()).clone().body.getReader()
    const sizes = []
    let size = 0
    let why = 'limit'
    while (size < 65536 && sizes.length < 16) {
      const r = await raceTurn(reader.read())
      if (!r || r.done) {
        why = r ? 'done' : 'timer'
        break
      }
      sizes.push(r.value.byteLength)
      size += r.value.byteLength
    }
    reader.cancel()
    return c.json({ sizes, why })
  })
  return app
}
