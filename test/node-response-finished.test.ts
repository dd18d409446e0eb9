import type { AddressInfo } from 'node:net'
import { type HttpBindings, serve } from '@hono/node-server'
import { type Context, Hono } from 'hono'
import { expect, it } from 'vitest'
import { type BackgroundTasksEnv, backgroundTasks } from '../src/index.ts'
import { settled } from '../src/testing.ts'
import { deferred } from './_support/helpers.ts'

/** An app whose one route adds a task (recorded in `events`) and answers with `respond(c)`. */
const appWithTask = (respond: (c: Context<BackgroundTasksEnv>) => Response | Promise<Response>) => {
  const events: string[] = []
  const app = new Hono<BackgroundTasksEnv>()
  app.use(backgroundTasks())
  app.get('/', (c) => {
    c.var.tasks.add(() => events.push('task'))
    return respond(c)
  })
  return { app, events }
}

it('on @hono/node-server, starts a task only once the ServerResponse has finished', async () => {
  const seen = deferred<boolean>()
  const app = new Hono<BackgroundTasksEnv & { Bindings: HttpBindings }>()
  app.use(backgroundTasks())
  app.get('/', (c) => {
    c.var.tasks.add(() => seen.resolve(c.env.outgoing.writableFinished && c.env.outgoing.closed))
    return c.text('ok')
  })
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })
  await new Promise((resolve) => server.once('listening', resolve))
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`)
    expect(await res.text()).toBe('ok')
    expect(await seen.promise).toBe(true)
  } finally {
    await new Promise((resolve) => server.close(resolve))
  }
})

it('through app.request, starts the task of a buffered body once the response is handed over, keeping the body', async () => {
  const { app, events } = appWithTask((c) => c.json({ hello: 'world', bytes: 'x'.repeat(60_000) }))
  const res = await app.request('/')
  expect(events).toEqual([])
  expect(res.headers.get('content-type')).toBe('application/json')
  await settled(res)
  expect(events).toEqual(['task'])
  expect(await res.json()).toEqual({ hello: 'world', bytes: 'x'.repeat(60_000) })
})

it('through app.request, sends a buffered body over 64 KiB untouched when the Context made it: its task starts once it is handed over', async () => {
  const { app, events } = appWithTask((c) => c.json({ hello: 'world', bytes: 'x'.repeat(100_000) }))
  const res = await app.request('/')
  // Not watched: settled() does not ask for the body to be read first.
  await settled(res)
  expect(events).toEqual(['task'])
  expect(await res.json()).toEqual({ hello: 'world', bytes: 'x'.repeat(100_000) })
})

it('through app.request, passes a buffered body over 64 KiB that the Context did not make on as a stream, its task after the last chunk', async () => {
  const { app, events } = appWithTask(
    () => new Response(JSON.stringify({ hello: 'world', bytes: 'x'.repeat(100_000) }), { headers: { 'content-type': 'application/json' } }),
  )
  const res = await app.request('/')
  await expect(settled(res)).rejects.toThrow('settled: the body of this response has not been read')
  expect(await res.json()).toEqual({ hello: 'world', bytes: 'x'.repeat(100_000) })
  await settled(res)
  expect(events).toEqual(['task'])
})

it('through app.request, starts the task of a streamed body only once its last chunk has been read', async () => {
  const events: string[] = []
  const more = deferred()
  const app = new Hono<BackgroundTasksEnv>()
  app.use(backgroundTasks())
  app.get('/', (c) => {
    c.var.tasks.add(() => events.push('task'))
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new TextEncoder().encode('first '))
        await more.promise
        controller.enqueue(new TextEncoder().encode('last'))
        controller.close()
      },
    })
    return c.body(body)
  })
  const res = await app.request('/')
  await expect(settled(res)).rejects.toThrow('settled: the body of this response has not been read')
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  expect((await reader.read()).value).toBe('first ')
  // Several event-loop turns: a task started at hand-over would have run by now.
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0))
  expect(events).toEqual([])
  more.resolve()
  expect((await reader.read()).value).toBe('last')
  expect((await reader.read()).done).toBe(true)
  await settled(res)
  expect(events).toEqual(['task'])
})

it('starts the tasks of a body-less response once it is handed over', async () => {
  const events: string[] = []
  const app = new Hono<BackgroundTasksEnv>()
  app.use(backgroundTasks())
  app.get('/', (c) => {
    c.var.tasks.add(() => events.push('task'))
    return c.body(null, 204)
  })
  const res = await app.request('/')
  events.push('response')
  await settled(res)
  expect(events).toEqual(['response', 'task'])
})

it('through app.request, leaves a Blob body to the peek (the runtime may stream it from a file): a 100 KB one is watched to its last chunk', async () => {
  const { app, events } = appWithTask((c) => c.body(new Blob(['x'.repeat(100_000)]) as unknown as ArrayBuffer))
  const res = await app.request('/')
  await expect(settled(res)).rejects.toThrow('settled: the body of this response has not been read')
  expect(await res.text()).toBe('x'.repeat(100_000))
  await settled(res)
  expect(events).toEqual(['task'])
})
