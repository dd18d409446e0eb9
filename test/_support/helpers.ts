import { Hono } from 'hono'
import { type BackgroundTasksEnv, type BackgroundTasksOptions, backgroundTasks } from '../../src/index.ts'
import { settled } from '../../src/testing.ts'

/** A promise with its resolve function outside, to hold a task or a handler at a known point. */
export const deferred = <T = void>() => {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/**
 * A hand-written byte source that enqueues `count` chunks of `size` bytes, one per macrotask, then
 * closes. With `respondOnClose` it also answers the pending BYOB read with `respond(0)`, as the
 * Streams spec asks; many sources skip that.
 */
export const byteSource = (count: number, size: number, { respondOnClose = false } = {}): ReadableStream<Uint8Array> => {
  let sent = 0
  return new ReadableStream({
    type: 'bytes',
    async pull(controller) {
      await new Promise((resolve) => setTimeout(resolve, 0))
      if (sent < count) return controller.enqueue(new Uint8Array(size).fill(sent++ % 256))
      controller.close()
      if (respondOnClose) controller.byobRequest?.respond(0)
    },
  })
}

/** Reads a body to its end: the bytes it carried, and the bytes of the buffers its chunks keep alive. */
export const readChunks = async (res: Response): Promise<{ total: number; held: number }> => {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  let total = 0
  let held = 0
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    total += chunk.value.byteLength
    held += chunk.value.buffer.byteLength
  }
  return { total, held }
}

/** A stand-in ExecutionContext that records how `waitUntil` was called. For unit tests only. */
export const recordingExecutionContext = () => {
  const calls: { promise: Promise<unknown>; boundToOwner: boolean }[] = []
  const ctx = {
    waitUntil(this: unknown, promise: Promise<unknown>) {
      calls.push({ promise, boundToOwner: this === ctx })
    },
    passThroughOnException() {},
    props: {},
  }
  return { ctx, calls, settled: () => Promise.all(calls.map((c) => c.promise)) }
}

/**
 * Serves one request through `backgroundTasks(options)`, lets `add` add its tasks in the handler,
 * reads the reply and waits until all of the request's work has settled.
 */
export const runWithTasks = async (options: BackgroundTasksOptions, add: (tasks: BackgroundTasksEnv['Variables']['tasks']) => void) => {
  const app = new Hono<BackgroundTasksEnv>()
  app.use(backgroundTasks(options))
  app.post('/register', (c) => {
    add(c.var.tasks)
    return c.text('ok')
  })
  const res = await app.request('/register', { method: 'POST' })
  await res.text()
  await settled(res)
}

/** `runWithTasks` for tests whose tasks fail on purpose: their failures are not logged. */
export const runQuietly = (options: BackgroundTasksOptions, add: (tasks: BackgroundTasksEnv['Variables']['tasks']) => void) =>
  runWithTasks({ onError: () => {}, ...options }, add)
