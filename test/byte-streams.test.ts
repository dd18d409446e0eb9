import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { type BackgroundTasksEnv, backgroundTasks } from '../src/index.ts'
import { settled } from '../src/testing.ts'
import { byteSource, readChunks } from './_support/helpers.ts'

const appWith = (count: number, size: number, ran: string[]) => {
  const app = new Hono<BackgroundTasksEnv>()
  app.use(backgroundTasks())
  app.get('/bytes', (c) => {
    c.get('tasks').add(() => {
      ran.push('task')
    })
    // Closes without answering the pending BYOB read with `respond(0)`.
    return c.body(byteSource(count, size))
  })
  return app
}

describe('byte-stream bodies the middleware watches [design: The response passes through untouched]', () => {
  it('end, and start their tasks, when the source closes without answering the pending read', async () => {
    const ran: string[] = []
    const res = await appWith(5, 3, ran).request('/bytes')
    const bytes = new Uint8Array(await res.arrayBuffer())
    expect([...bytes]).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4])
    await settled(res)
    expect(ran).toEqual(['task'])
  })

  it('hand out small chunks in buffers of their own size, not the 64 KiB read buffer', async () => {
    const ran: string[] = []
    const res = await appWith(200, 10, ran).request('/bytes')
    const { total, held } = await readChunks(res)
    expect(total).toBe(2_000)
    // Each chunk may sit in a socket's queue downstream: it must not keep a 64 KiB buffer alive.
    expect(held).toBeLessThanOrEqual(2 * total)
    await settled(res)
    expect(ran).toEqual(['task'])
  })
})
