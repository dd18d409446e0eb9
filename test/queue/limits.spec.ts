import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it, vi } from 'vitest'
import { app, type Env, outcomes, runs } from './worker.ts'

// Cloudflare Queues' limits through a real local queue (test/queue/wrangler.toml): 128 KB per
// message, checked at add(); 100 messages and 256 KB per sendBatch; and the outcome of each message.
const until = { timeout: 4_000, interval: 10 }

/** The real TASKS producer, recording each sendBatch's size; the calls listed in `failOn` throw instead. */
const recordingQueue = (failOn: number[] = []) => {
  const batches: { count: number; bytes: number }[] = []
  const TASKS = {
    send: (body: unknown, options?: QueueSendOptions) => env.TASKS.send(body, options),
    sendBatch: async (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
      const list = [...messages]
      const bytes = list.reduce((sum, message) => sum + new TextEncoder().encode(JSON.stringify(message.body)).length, 0)
      batches.push({ count: list.length, bytes })
      if (failOn.includes(batches.length - 1)) throw new Error('Queue sendBatch failed: Unknown Internal Error (15000)')
      return env.TASKS.sendBatch(list, options)
    },
  } as Queue
  const testEnv: Env = { ...env, TASKS }
  return { testEnv, batches }
}

/** POST /sized: `count` record tasks whose messages are `bytes` long; returns the response and the batches sent. */
const sized = async (prefix: string, count: number, bytes: number, failOn: number[] = []) => {
  const { testEnv, batches } = recordingQueue(failOn)
  const ctx = createExecutionContext()
  const req = new Request('https://worker/sized', { method: 'POST', body: JSON.stringify({ prefix, count, bytes }) })
  const res = await app.fetch(req, testEnv, ctx)
  const body = (await res.json()) as { added: number; error?: string }
  await waitOnExecutionContext(ctx)
  return { status: res.status, body, batches }
}

const ranLabels = (prefix: string) =>
  runs
    .filter((run) => String(run.args[0]).startsWith(`${prefix}-`))
    .map((run) => String(run.args[0]))
    .sort((a, b) => Number(a.split('-')[1]) - Number(b.split('-')[1]))

const outcomesOf = (prefix: string) => outcomes.filter((line) => line.startsWith(`${prefix}-`))

describe('Cloudflare Queues limits', () => {
  it('accepts a message of exactly 128,000 bytes at add(), and the real queue takes it and runs it', async () => {
    const { status, body, batches } = await sized('edge', 1, 128_000)
    expect(status).toBe(202)
    expect(body).toEqual({ added: 1 })
    expect(batches).toEqual([{ count: 1, bytes: 128_000 }])
    await vi.waitFor(() => expect(ranLabels('edge')).toEqual(['edge-0']), until)
  })

  it('refuses one byte more at add(), naming the task, its size and the limit, and sends nothing', async () => {
    const { status, body, batches } = await sized('over', 1, 128_001)
    expect(status).toBe(400)
    expect(body).toEqual({
      error:
        'RangeError: tasks.add: expected durable task "record" to fit one Cloudflare Queues message (at most 128,000 bytes of JSON, envelope included), got 128,001 bytes; pass a key to the data (R2, KV) instead of the data',
      added: 0,
    })
    expect(batches).toEqual([])
  })

  it('splits by bytes: three 100 KB messages go in two sendBatch calls of at most 256 KB, and all run', async () => {
    const { status, batches } = await sized('bytes', 3, 100_000)
    expect(status).toBe(202)
    expect(batches).toEqual([
      { count: 2, bytes: 200_000 },
      { count: 1, bytes: 100_000 },
    ])
    expect(outcomesOf('bytes')).toEqual(['bytes-0 sent', 'bytes-1 sent', 'bytes-2 sent'])
    await vi.waitFor(() => expect(ranLabels('bytes')).toEqual(['bytes-0', 'bytes-1', 'bytes-2']), until)
  })

  it('splits by count: 150 messages go in sendBatch calls of 100 and 50, and all run', async () => {
    const { status, batches } = await sized('count', 150, 200)
    expect(status).toBe(202)
    expect(batches.map((batch) => batch.count)).toEqual([100, 50])
    await vi.waitFor(() => expect(ranLabels('count')).toHaveLength(150), until)
  })

  it('reports each message exactly: only those of the sendBatch that failed are a TaskSendError, the others are sent and run', async () => {
    // 5 messages of 100 KB: batches [0, 1], [2, 3], [4]; the second sendBatch fails.
    const { batches } = await sized('exact', 5, 100_000, [1])
    expect(batches.map((batch) => batch.count)).toEqual([2, 2, 1])
    expect(outcomesOf('exact')).toEqual(['exact-0 sent', 'exact-1 sent', 'exact-2 error', 'exact-3 error', 'exact-4 sent'])
    await vi.waitFor(() => expect(ranLabels('exact')).toEqual(['exact-0', 'exact-1', 'exact-4']), until)
  })
})
