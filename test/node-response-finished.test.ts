import type { AddressInfo } from 'node:net'
import { type HttpBindings, serve } from '@hono/node-server'
import { Hono } from 'hono'
import { expect, it } from 'vitest'
import { type BackgroundTasksEnv, backgroundTasks } from '../src/index.ts'
import { settled } from '../src/testing.ts'
import { deferred } from './helpers.ts'

it('on @hono/node-server, starts a task only once the ServerResponse has finished', async () => {
  const seen = deferred<boolean>()
  const app = new Hono<BackgroundTasksEnv & { Bindings: HttpBindings }>()
  app.use(backgroundTasks())
  app.get('/', (c) => {
    c.var.tasks.add(() => seen.resolve(c.env.outgoing.writableFinished))
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

it('through app.request, starts a task only once the body has been read to the end', async () => {
  const events: string[] = []
  const app = new Hono<BackgroundTasksEnv>()
  app.use(backgroundTasks())
  app.get('/', (c) => {
    c.var.tasks.add(() => events.push('task'))
    return c.text('ok')
  })
  const res = await app.request('/')
  // Several event-loop turns: a task that was started at hand-off would have run by now.
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0))
  expect(events).toEqual([])
  await expect(settled(res)).rejects.toThrow('settled: the body of this response has not been read')
  expect(await res.text()).toBe('ok')
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
