import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { app, deadLetters, type Env, reported, runs } from './worker.ts'

// Real local queues (test/queue/wrangler.toml): max_retries = 2, retry_delay = 0, and a dead-letter
// queue that the worker records. Delivery is proven by polling those records with a bounded wait.
const until = { timeout: 4_000, interval: 10 }

interface Sent {
  body: { task: string; args: unknown[]; id: string; enqueuedAt: number }
  contentType?: string
}

/** The real TASKS producer, recording each `sendBatch` before it forwards it. */
const recordingQueue = () => {
  const batches: Sent[][] = []
  const TASKS = {
    send: (body: unknown, options?: QueueSendOptions) => env.TASKS.send(body, options),
    sendBatch: async (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
      const list = [...messages]
      batches.push(list as Sent[])
      return env.TASKS.sendBatch(list, options)
    },
  } as Queue
  const testEnv: Env = { ...env, TASKS }
  return { testEnv, batches }
}

const addTasks = (tasks: [string, string][]) =>
  new Request('https://worker/tasks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tasks }) })

/** Sends the request, lets its work finish, and returns the ids of the messages it sent. */
const request = async (tasks: [string, string][]): Promise<string[]> => {
  const { testEnv, batches } = recordingQueue()
  const ctx = createExecutionContext()
  const res = await app.fetch(addTasks(tasks), testEnv, ctx)
  await res.text()
  await waitOnExecutionContext(ctx)
  return batches.flat().map((message) => message.body.id)
}

const runsOf = (id: string) => runs.filter((run) => run.id === id).map((run) => `${run.task} #${run.attempt} ${run.outcome}`)
const deadLetterOf = (id: string) => deadLetters.filter((letter) => (letter.body as { id?: unknown })?.id === id)

afterEach(() => {
  vi.restoreAllMocks()
})

describe('durable tasks through a real local Cloudflare Queue', () => {
  it("sends a request's durable tasks in one batch after the response, and the consumer runs them", async () => {
    const { testEnv, batches } = recordingQueue()
    const ctx = createExecutionContext()
    const waitUntil = vi.spyOn(ctx, 'waitUntil')

    const res = await app.fetch(
      addTasks([
        ['record', 'first'],
        ['record', 'second'],
      ]),
      testEnv,
      ctx,
    )
    expect(res.status).toBe(202)
    expect(waitUntil).toHaveBeenCalledOnce()
    // The response is not finished until its body has been read: nothing has left yet.
    expect(batches).toEqual([])

    expect(await res.json()).toEqual({ added: 2 })
    await waitOnExecutionContext(ctx)
    expect(batches).toEqual([
      [
        { body: { task: 'record', args: ['first'], id: expect.any(String), enqueuedAt: expect.any(Number) }, contentType: 'json' },
        { body: { task: 'record', args: ['second'], id: expect.any(String), enqueuedAt: expect.any(Number) }, contentType: 'json' },
      ],
    ])
    const [first, second] = batches[0]!.map((message) => message.body.id)

    await vi.waitFor(() => expect(runs.filter((run) => run.id === first || run.id === second)).toHaveLength(2), until)
    // `this.id` is the id sent in the message; `this.env` is the consumer's env.
    expect(runs.filter((run) => run.id === first || run.id === second)).toEqual([
      { task: 'record', id: first, attempt: 1, args: ['first'], outcome: 'success', hadEnv: true },
      { task: 'record', id: second, attempt: 1, args: ['second'], outcome: 'success', hadEnv: true },
    ])
  })

  it('retries a task that fails twice, and it runs once to success', async () => {
    const [id] = await request([['flaky', 'twice']])
    await vi.waitFor(() => expect(runsOf(id!)).toContain('flaky #3 success'), until)
    expect(runsOf(id!)).toEqual(['flaky #1 error', 'flaky #2 error', 'flaky #3 success'])
  })

  it('moves a task that always fails to the dead-letter queue after max_retries', async () => {
    const [id] = await request([['hopeless', 'never']])
    await vi.waitFor(() => expect(deadLetterOf(id!)).toHaveLength(1), until)
    // 1 delivery + max_retries (2), then the dead-letter queue; the consumer never acked it.
    expect(runsOf(id!)).toEqual(['hopeless #1 error', 'hopeless #2 error', 'hopeless #3 error'])
    expect(deadLetterOf(id!)[0]?.body).toEqual({ task: 'hopeless', args: ['never'], id, enqueuedAt: expect.any(Number) })
    // The task that succeeded on its third try (previous test) never reached it.
    expect(deadLetters.map((letter) => (letter.body as { task?: unknown })?.task)).not.toContain('flaky')
  })

  it('throws at add() for an argument JSON cannot carry, and sends nothing', async () => {
    const { testEnv, batches } = recordingQueue()
    const ctx = createExecutionContext()
    const waitUntil = vi.spyOn(ctx, 'waitUntil')
    const res = await app.fetch(new Request('https://worker/bigint', { method: 'POST' }), testEnv, ctx)
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({
      error: 'TypeError: tasks.add: argument 1 of durable task "record" is not JSON-serialisable at `args[1].user.createdAt`: a BigInt',
    })
    await waitOnExecutionContext(ctx)
    expect(waitUntil).not.toHaveBeenCalled()
    expect(batches).toEqual([])
  })

  it('never runs a message that names an unknown task or is malformed: it ends in the dead-letter queue', async () => {
    const logged: string[] = []
    vi.spyOn(console, 'error').mockImplementation((line: unknown) => {
      logged.push(String(line))
    })
    const unknown = { task: 'dropTables', args: [], id: 'unknown-task', enqueuedAt: Date.now() }
    // Names a task the consumer knows, but `args` is not an array: it must not run `record` anyway.
    const malformed = { task: 'record', args: 'everything', id: 'malformed-args', enqueuedAt: Date.now() }
    await env.TASKS.sendBatch([
      { body: unknown, contentType: 'json' },
      { body: malformed, contentType: 'json' },
      { body: 'not even an object', contentType: 'json' },
    ])

    await vi.waitFor(() => expect(deadLetters.filter((letter) => letter.body === 'not even an object')).toHaveLength(1), until)
    await vi.waitFor(() => expect(deadLetterOf('unknown-task')).toHaveLength(1), until)
    await vi.waitFor(() => expect(deadLetterOf('malformed-args')).toHaveLength(1), until)
    expect(runsOf('unknown-task')).toEqual([])
    expect(runsOf('malformed-args')).toEqual([])
    expect(runs.filter((run) => run.args[0] === 'everything')).toEqual([])

    // Logged once per delivery (1 + max_retries), never run.
    const lines = (needle: string) => logged.filter((line) => line.includes(needle))
    expect(lines('names task "dropTables", which this consumer does not know (it knows "record", "flaky", "hopeless")')).toHaveLength(3)
    expect(lines('is not a task message: `args` is not an array')).toHaveLength(3)
    expect(lines('is not a task message: expected an object like {"task", "args", "id", "enqueuedAt"}, got a string')).toHaveLength(3)
    expect(lines('not run, retried so that it ends in the dead-letter queue after max_retries')).toHaveLength(9)
  })

  it('reports a failed send through onError by task name, and still sends the tasks of other transports', async () => {
    reported.length = 0
    const ids = await request([
      ['lost', 'nowhere'],
      ['record', 'somewhere'],
    ])
    expect(reported).toEqual([
      'TaskSendError: task "lost" could not be sent to its transport: cloudflareQueue: `c.env.NO_SUCH_QUEUE` is not a queue producer binding; declare it in wrangler.toml under [[queues.producers]]',
    ])
    // Only `record` went through TASKS.
    expect(ids).toHaveLength(1)
    await vi.waitFor(() => expect(runsOf(ids[0]!)).toEqual(['record #1 success']), until)
    expect(runs.filter((run) => run.task === 'lost')).toEqual([])
  })
})
