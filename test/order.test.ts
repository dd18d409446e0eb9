import { Hono } from 'hono'
import { expect, it } from 'vitest'
import { type BackgroundTasksEnv, backgroundTasks } from '../src/index.ts'
import { settled } from '../src/testing.ts'

it('finishes a synchronous task before the next starts, even when it adds a task [design: Order, Nested work]', async () => {
  const events: string[] = []
  const app = new Hono<BackgroundTasksEnv>()
  app.use(backgroundTasks())
  app.get('/', (c) => {
    const tasks = c.var.tasks
    tasks.add(function a() {
      events.push('a:start')
      tasks.add(() => events.push('nested'))
      events.push('a:end')
    })
    tasks.add(() => events.push('b'))
    return c.text('ok')
  })
  const res = await app.request('/')
  await settled(res)
  expect(events).toEqual(['a:start', 'a:end', 'b', 'nested'])
})
