import { describe, expect, it } from 'vitest'
import * as cloudflare from '../src/cloudflare/index.ts'
import * as durable from '../src/durable/index.ts'
import * as node from '../src/node.ts'
import * as queue from '../src/queue/index.ts'
import * as shutdown from '../src/shutdown/index.ts'

describe('the 0.1 subpaths stay as aliases of the new ones', () => {
  it('hono-background-tasks/node is hono-background-tasks/shutdown', () => {
    expect(Object.keys(node).sort()).toEqual(Object.keys(shutdown).sort())
    expect(node.gracefulShutdown).toBe(shutdown.gracefulShutdown)
  })

  it('hono-background-tasks/queue is hono-background-tasks/durable and hono-background-tasks/cloudflare together', () => {
    expect(Object.keys(queue).sort()).toEqual([...Object.keys(durable), ...Object.keys(cloudflare)].sort())
    expect(queue.defineTask).toBe(durable.defineTask)
    expect(queue.parseTaskMessage).toBe(durable.parseTaskMessage)
    expect(queue.cloudflareQueue).toBe(cloudflare.cloudflareQueue)
    expect(queue.queueConsumer).toBe(cloudflare.queueConsumer)
  })
})
