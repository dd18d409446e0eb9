// The one app every benchmark server runs, whatever the runtime. `variant` picks the routes.
import { Hono } from 'hono'
import { stream, streamSSE } from 'hono/streaming'
import { backgroundTasks } from '../../src/index.ts'
import { bufferBody, chunkBytes, chunkCount, chunkText, pullStream } from './bodies.mjs'
import { createDiagApp } from './ttfb-diag.mjs'

const BODY = { hello: 'world' }

/** Tasks added by handlers and tasks that ran to the end, for checks and throughput. */
export const counters = { added: 0, completed: 0 }

function noop() {
  counters.completed++
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** The task of the client-wait benchmark: half a second of (simulated) work. */
async function slow() {
  await sleep(500)
  counters.completed++
}

/** The task of the throughput and memory benchmarks: a short wait, like a call to another service. */
async function io(id) {
  await sleep(5)
  if (typeof id === 'number') counters.completed++
}

const noop2 = () => {}

/** A no-op async middleware, as the floor has. */
const passThrough = async (_c, next) => {
  await next()
}

/** Whether this runtime passes an ExecutionContext (workerd, edge-runtime): found at the first /fire. */
let hasExecutionCtx

/** The body passed through a pull-based ReadableStream, as src/runtime/web-body.ts does to watch its end. */
const restream = (body) => {
  const reader = body.getReader()
  return new ReadableStream({
    async pull(controller) {
      const chunk = await reader.read()
      if (chunk.done) controller.close()
      else controller.enqueue(chunk.value)
    },
    cancel(reason) {
      return reader.cancel(reason)
    },
  })
}

/** The large-body routes, with one task each (`withTasks`) or as bare Hono. */
const largeRoutes = (app, withTasks) => {
  /** The number of chunks in `?mb=N` MiB (100 unless given). */
  const chunksOf = (c) => chunkCount(c.req.query('mb'))
  const addTask = withTasks
    ? (c) => {
        counters.added++
        c.var.tasks.add(noop)
      }
    : () => {}
  bufferBody() // at start-up, not in the first request
  app.get('/small', (c) => c.json(BODY))
  // c.body of a Uint8Array made once at start-up.
  app.get('/buffer', (c) => {
    addTask(c)
    return c.body(bufferBody(), 200, { 'content-type': 'application/octet-stream' })
  })
  app.get('/pull', (c) => {
    addTask(c)
    return c.body(pullStream(chunksOf(c)), 200, { 'content-type': 'application/octet-stream' })
  })
  app.get('/stream', (c) => {
    addTask(c)
    const n = chunksOf(c)
    return stream(c, async (s) => {
      for (let i = 0; i < n && !s.aborted; i++) await s.write(chunkBytes(i))
    })
  })
  app.get('/sse', (c) => {
    addTask(c)
    const n = chunksOf(c)
    return streamSSE(c, async (s) => {
      for (let i = 0; i < n && !s.aborted; i++) await s.writeSSE({ data: chunkText(i) })
    })
  })
}

/**
 * Garbage collection so far, where the runtime reports it as performance entries (Node): pauses and
 * their total time, minor (scavenges) and the rest, so that the overhead benchmark can say how much of a
 * request's CPU time is GC.
 */
const gc = { minor: 0, major: 0, ms: 0 }
try {
  const { PerformanceObserver } = globalThis
  if (PerformanceObserver?.supportedEntryTypes?.includes('gc')) {
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        gc.ms += entry.duration
        // Node's detail.kind: 1 is a scavenge (minor GC); 2 major, 4 incremental marking, 8 weak callbacks.
        if (entry.detail?.kind === 1) gc.minor++
        else gc.major++
      }
    }).observe({ entryTypes: ['gc'] })
  }
} catch {}

const stats = () => {
  const out = { added: counters.added, completed: counters.completed, gc: { ...gc } }
  const proc = globalThis.process
  try {
    const memory = proc.memoryUsage()
    out.rss = memory.rss
    out.heapUsed = memory.heapUsed
  } catch {}
  try {
    const cpu = proc.cpuUsage()
    out.cpu = cpu.user + cpu.system
    out.user = cpu.user
    out.system = cpu.system
  } catch {}
  return out
}

const collectGarbage = () => {
  if (typeof globalThis.gc === 'function') {
    globalThis.gc()
    globalThis.gc()
  } else if (typeof globalThis.Bun?.gc === 'function') globalThis.Bun.gc(true)
}

/** Variants: what the `/` route does (see the benchmark that uses each). */
export const variants = {
  bare: 'bare Hono',
  mounted: 'middleware mounted, no task',
  one: 'one no-op task',
  'one-var': 'one no-op task, added through c.var',
  three: 'three no-op tasks',
  'floor-bare': 'one no-op async middleware, no task',
  'floor-spin': 'the floor, plus 1 µs of busy work in the handler: what a microsecond of JavaScript per request costs',
  floor: 'one no-op async middleware, setImmediate(task) in the handler: the floor for any Hono middleware',
  wait: '/task adds a 500 ms task, /none adds none; /fire starts it without the library, /quick adds a no-op task',
  work: 'one 5 ms task per request',
  large: '/buffer (10 MiB Uint8Array), /pull, /stream, /sse (100 MiB unless ?mb=N), one task each; /small, no task',
  'large-bare': 'the routes of large, bare Hono',
}

export const createApp = (variant) => {
  if (variant === 'diag') return createDiagApp()
  if (!(variant in variants)) throw new Error(`unknown variant ${variant}`)
  const app = new Hono()
  // Registered before the middleware: its handler answers without ever reaching it.
  app.get('/__stats', (c) => c.json(stats()))
  app.post('/__gc', (c) => {
    collectGarbage()
    return c.json(stats())
  })
  switch (variant) {
    case 'bare':
      app.get('/', (c) => c.json(BODY))
      break
    // The floor: what any async Hono middleware costs (app.fetch returns a promise, so @hono/node-server
    // leaves its synchronous fast path), plus the cheapest way to run something after the handler.
    case 'floor-bare':
      app.use(passThrough)
      app.get('/', (c) => c.json(BODY))
      break
    case 'floor':
      app.use(passThrough)
      app.get('/', (c) => {
        counters.added++
        setImmediate(noop)
        return c.json(BODY)
      })
      break
    // Calibration: user time alone, no allocation and no system call, against which the library's
    // per-request cost can be read (the kernel's share of loopback traffic grows with it).
    case 'floor-spin':
      app.use(passThrough)
      app.get('/', (c) => {
        counters.added++
        setImmediate(noop)
        for (const end = performance.now() + 0.001; performance.now() < end; );
        return c.json(BODY)
      })
      break
    case 'mounted':
      app.use(backgroundTasks())
      app.get('/', (c) => c.json(BODY))
      break
    // `c.get('tasks')`: Hono's `c.var` getter builds a new object from all the variables on every read
    // (Object.fromEntries). The 'one-var' variant measures the same route written with `c.var.tasks.add()`.
    case 'one':
      app.use(backgroundTasks())
      app.get('/', (c) => {
        counters.added++
        c.get('tasks').add(noop)
        return c.json(BODY)
      })
      break
    case 'one-var':
      app.use(backgroundTasks())
      app.get('/', (c) => {
        counters.added++
        c.var.tasks.add(noop)
        return c.json(BODY)
      })
      break
    case 'three':
      app.use(backgroundTasks())
      app.get('/', (c) => {
        counters.added += 3
        const tasks = c.get('tasks')
        tasks.add(noop)
        tasks.add(noop)
        tasks.add(noop)
        return c.json(BODY)
      })
      break
    case 'wait':
      app.use(backgroundTasks())
      app.get('/none', (c) => c.json(BODY))
      // The same as /none under another name: the A/A control of the client-wait ratios.
      app.get('/none2', (c) => c.json(BODY))
      app.get('/task', (c) => {
        counters.added++
        c.var.tasks.add(slow)
        return c.json(BODY)
      })
      // The floor: the same 500 ms task, started by the handler itself, fire-and-forget, no library; kept
      // alive by the platform's waitUntil where there is one (workerd cancels it otherwise).
      app.get('/fire', (c) => {
        counters.added++
        const task = slow()
        if (hasExecutionCtx !== false) {
          try {
            c.executionCtx.waitUntil(task)
            hasExecutionCtx = true
          } catch {
            hasExecutionCtx = false
          }
        }
        return c.json(BODY)
      })
      // The library with a task that is done at once: its own cost, without a pending 500 ms timer.
      app.get('/quick', (c) => {
        counters.added++
        c.var.tasks.add(noop)
        return c.json(BODY)
      })
      // Diagnostics, no task: what the library does to a response with tasks, done by hand.
      app.get('/restream', (c) => {
        const res = c.json(BODY)
        return new Response(restream(res.body), res)
      })
      // The clone peek of src/runtime/web-body.ts by hand: read a clone of the body to its end, send the original.
      app.get('/peek', async (c) => {
        const res = c.json(BODY)
        const reader = res.clone().body.getReader()
        while (!(await reader.read()).done) {}
        return res
      })
      app.get('/completed', (c) => {
        c.env?.completed?.then?.(noop2, noop2)
        return c.json(BODY)
      })
      break
    case 'work':
      app.use(backgroundTasks())
      app.get('/', (c) => {
        counters.added++
        c.var.tasks.add(io, counters.added)
        return c.json(BODY)
      })
      break
    case 'large':
      app.use(backgroundTasks())
      largeRoutes(app, true)
      break
    case 'large-bare':
      largeRoutes(app, false)
      break
  }
  return app
}
