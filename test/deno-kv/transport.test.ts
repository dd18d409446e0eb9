import { serialize } from 'node:v8'
import { Hono } from 'hono'
import { describe, expect, it, vi } from 'vitest'
import { denoKvQueue, denoKvWorker, listDeadLetters } from '../../src/deno-kv/index.ts'
import { serialisedSizeBound } from '../../src/deno-kv/limits.ts'
import { defineTask } from '../../src/durable/index.ts'
import { type BackgroundTasksEnv, backgroundTasks, type TaskMessage } from '../../src/index.ts'
import { deferred } from '../_support/helpers.ts'
import { FakeKv } from './fake-kv.ts'

// Unit tests in Node with a stand-in for Deno.Kv: what add() refuses, how a task's retries become a
// backoffSchedule, and how the tasks of one request, or of concurrent ones, become one commit. Deno itself is in deno-kv.test.ts.

/** Adds `add`'s tasks in one request through denoKvQueue(kv); returns what add() threw, in order. */
const request = async (kv: FakeKv, add: (tasks: BackgroundTasksEnv['Variables']['tasks']) => void) => {
  const app = new Hono<BackgroundTasksEnv>()
  app.use(backgroundTasks({ transport: denoKvQueue(kv), onError: () => {} }))
  app.post('/', (c) => {
    add(c.var.tasks)
    return c.text('ok', 201)
  })
  const res = await app.request('/', { method: 'POST' })
  expect(res.status).toBe(201)
}

const thrownBy = (fn: () => void): unknown => {
  try {
    fn()
  } catch (error) {
    return error
  }
  return undefined
}

const noop = (..._args: unknown[]) => {}

describe('denoKvQueue: what add() refuses', () => {
  const cases: [string, ReturnType<typeof defineTask>, Error][] = [
    [
      'more than 5 retries',
      defineTask('greedy', noop, { retries: 6 }),
      new RangeError(
        'tasks.add: durable task "greedy" asks for 6 retries; Deno KV queues retry a message at most 5 times (`backoffSchedule` has at most 5 steps)',
      ),
    ],
    [
      'a retry delay over an hour',
      defineTask('patient', noop, { retries: 1, retryDelay: 3_600_001 }),
      new RangeError(
        'tasks.add: durable task "patient" asks for a retry delay of 3,600,001 ms before attempt 2; Deno KV queues wait at most 3,600,000 ms (an hour) between retries',
      ),
    ],
    [
      'a retryDelay function that grows past an hour',
      defineTask('doubling', noop, { retries: 5, retryDelay: (attempt) => 1_000 * 10 ** attempt }),
      new RangeError(
        'tasks.add: durable task "doubling" asks for a retry delay of 10,000,000 ms before attempt 4; Deno KV queues wait at most 3,600,000 ms (an hour) between retries',
      ),
    ],
    [
      'a retryDelay function of the error',
      defineTask('picky', noop, { retries: 2, retryDelay: (_attempt, error) => (error as { retryAfter: number }).retryAfter }),
      new TypeError(
        `tasks.add: durable task "picky" has a \`retryDelay\` function that threw when asked for attempt 2 without an error (Cannot read properties of undefined (reading 'retryAfter')); Deno KV needs the whole schedule when the task is sent: pass a number, or a function of the attempt alone`,
      ),
    ],
    [
      'a retryDelay function that gives no number',
      defineTask('vague', noop, { retries: 1, retryDelay: () => Number.NaN }),
      new TypeError(
        'tasks.add: durable task "vague" has a `retryDelay` that gives NaN for attempt 2; Deno KV needs a number of milliseconds from 0 to 3,600,000 per retry',
      ),
    ],
  ]
  for (const [title, task, expected] of cases) {
    it(`refuses ${title}, naming the task, the value and the limit, and sends nothing for it`, async () => {
      const kv = new FakeKv()
      const fine = defineTask('fine', noop)
      const thrown: unknown[] = []
      await request(kv, (tasks) => {
        thrown.push(thrownBy(() => tasks.add(task)))
        tasks.add(fine)
      })
      expect(thrown).toEqual([expected])
      expect(thrown[0]).toBeInstanceOf(expected.constructor)
      expect(kv.commits.map((commit) => commit.enqueued.map(({ value }) => (value as TaskMessage).task))).toEqual([['fine']])
    })
  }

  it('refuses a message over 64 KiB serialised, counting a two-byte string twice', async () => {
    const kv = new FakeKv()
    const upload = defineTask('upload', (data: string) => void data)
    const thrown: unknown[] = []
    await request(kv, (tasks) => {
      thrown.push(thrownBy(() => tasks.add(upload, 'a'.repeat(60_000))))
      thrown.push(thrownBy(() => tasks.add(upload, 'é'.repeat(65_600))))
      thrown.push(thrownBy(() => tasks.add(upload, '€'.repeat(33_000))))
    })
    expect(thrown[0]).toBeUndefined()
    expect(thrown[1]).toBeInstanceOf(RangeError)
    expect(String(thrown[1])).toMatch(
      /^RangeError: tasks\.add: expected durable task "upload" to fit one Deno KV queue message \(at most 65,536 bytes serialised, envelope included\), got up to 65,8\d\d bytes; pass a key to the data/,
    )
    expect(String(thrown[2])).toMatch(/got up to 66,2\d\d bytes/)
    expect(kv.commits).toHaveLength(1)
    expect(kv.commits[0]!.enqueued).toHaveLength(1)
  })
})

describe('denoKvQueue: what it sends', () => {
  it('sends the tasks of concurrent requests in one commit while another is in flight, each told its own outcome', async () => {
    const kv = new FakeKv()
    const held = deferred()
    kv.hold = held.promise
    const transport = denoKvQueue(kv)
    const message = (task: string): TaskMessage => ({ task, args: [], id: crypto.randomUUID(), enqueuedAt: 1 })
    const first = transport.send([message('a1')], undefined as never, [{}])
    await vi.waitFor(() => expect(kv.started).toBe(1))
    const second = transport.send([message('b1'), message('b2')], undefined as never, [{}, {}])
    const third = transport.send([message('c1')], undefined as never, [{}])
    // Nothing else goes while the first commit is in flight.
    expect(kv.started).toBe(1)
    held.resolve()
    kv.hold = undefined
    const sent = { status: 'fulfilled', value: undefined }
    expect(await first).toEqual([sent])
    expect(await second).toEqual([sent, sent])
    expect(await third).toEqual([sent])
    expect(kv.commits.map((commit) => commit.enqueued.map(({ value }) => (value as TaskMessage).task))).toEqual([
      ['a1'],
      ['b1', 'b2', 'c1'],
    ])
  })

  it('sends one request’s tasks in one commit, each with its retries as a backoffSchedule and a dead-letter key under the prefix', async () => {
    const kv = new FakeKv()
    const once = defineTask('once', noop)
    const defaults = defineTask('defaults', noop, { retries: 5 })
    const fixed = defineTask('fixed', noop, { retries: 2, retryDelay: 50 })
    const growing = defineTask('growing', noop, { retries: 3, retryDelay: (attempt) => attempt * 100 })
    await request(kv, (tasks) => {
      tasks.add(once)
      tasks.add(defaults)
      tasks.add(fixed)
      tasks.add(growing)
    })
    expect(kv.commits).toHaveLength(1)
    const enqueued = kv.commits[0]!.enqueued
    expect(enqueued.map(({ value, options }) => [(value as TaskMessage).task, options?.backoffSchedule])).toEqual([
      // The task's own retries, then a spare delivery for a worker that dies mid-task, while Deno allows one more step.
      ['once', [0]],
      ['defaults', [1_000, 2_000, 4_000, 8_000, 16_000]],
      ['fixed', [50, 50, 0]],
      ['growing', [200, 300, 400, 0]],
    ])
    expect(enqueued.map(({ value }) => (value as { retries: number }).retries)).toEqual([0, 5, 2, 3])
    for (const { value, options } of enqueued) {
      const { id, backoffSchedule } = value as TaskMessage & { backoffSchedule: number[] }
      expect(backoffSchedule).toEqual(options?.backoffSchedule)
      expect(options?.keysIfUndelivered).toEqual([['hono-background-tasks', 'dead', id]])
      expect((await kv.get(['hono-background-tasks', 'sent', id])).versionstamp).not.toBeNull()
    }
  })

  it('drops a repeated send of a task id, and still sends the others of the same request', async () => {
    const kv = new FakeKv()
    const transport = denoKvQueue(kv, { prefix: ['app', 1] })
    const message = (id: string): TaskMessage => ({ task: 'once', args: [], id, enqueuedAt: 1 })
    expect(await transport.send([message('a')], {} as never, [{ name: 'once' }])).toEqual([{ status: 'fulfilled', value: undefined }])
    const results = await transport.send([message('b'), message('a'), message('c')], {} as never, [
      { name: 'once' },
      { name: 'once' },
      { name: 'once' },
    ])
    expect(results).toEqual([0, 1, 2].map(() => ({ status: 'fulfilled', value: undefined })))
    // The second commit lost its check on "a" and was made again without it.
    expect(kv.commits.map(({ ok, enqueued }) => [ok, enqueued.map(({ value }) => (value as TaskMessage).id)])).toEqual([
      [true, ['a']],
      [false, []],
      [true, ['b', 'c']],
    ])
    expect(kv.commits[2]!.enqueued[0]!.options?.keysIfUndelivered).toEqual([['app', 1, 'dead', 'b']])
    expect(transport.destination).toBe('app/1')
    expect(transport.system).toBe('deno_kv')
  })

  it('splits past Deno’s 100 checks per commit', async () => {
    const kv = new FakeKv()
    const transport = denoKvQueue(kv)
    const messages = Array.from({ length: 150 }, (_, i): TaskMessage => ({ task: 't', args: [], id: `id-${i}`, enqueuedAt: 1 }))
    const results = await transport.send(
      messages,
      {} as never,
      messages.map(() => ({ name: 't' })),
    )
    expect(results).toHaveLength(150)
    expect(kv.commits.map(({ enqueued }) => enqueued.length)).toEqual([100, 50])
  })
})

describe('the serialised size bound', () => {
  it('is never below what V8 serialises, for JSON values of every kind', () => {
    const values: unknown[] = [
      null,
      true,
      0,
      -1,
      2 ** 31,
      1.5,
      Number.MAX_VALUE,
      '',
      'ascii',
      'é'.repeat(300),
      '€ and 😀',
      [],
      [1, 'two', [3], { four: 4 }],
      { a: 1, 'not an identifier': [null, false], 1: 'index key', nested: { deeper: { deepest: 'x'.repeat(1_000) } } },
      {
        task: 'sendWelcomeEmail',
        args: ['ada@example.com', { name: 'Ada' }],
        id: crypto.randomUUID(),
        enqueuedAt: Date.now(),
        backoffSchedule: [1000, 2000],
      },
      Array.from({ length: 1_000 }, (_, i) => i * 1.25),
    ]
    for (const value of values)
      expect(serialisedSizeBound(value), JSON.stringify(value).slice(0, 80)).toBeGreaterThanOrEqual(serialize(value).length)
  })
})

describe('option checks', () => {
  it('refuses what is not a Deno.Kv, unknown options and a bad prefix, in one line', () => {
    expect(() => denoKvQueue({} as never)).toThrow(
      new TypeError('denoKvQueue: expected a Deno.Kv (`await Deno.openKv()`), got `[object Object]` (object)'),
    )
    expect(() => denoKvQueue(new FakeKv(), { prefix: 'tasks' as never })).toThrow(
      new TypeError(
        'denoKvQueue: expected `prefix` to be a Deno KV key prefix (an array of strings, numbers, bigints, booleans, symbols or Uint8Arrays), got `"tasks"` (string)',
      ),
    )
    expect(() => denoKvQueue(new FakeKv(), { before: true } as never)).toThrow(
      new TypeError('denoKvQueue: unknown option `before`; known options are `beforeResponse`, `prefix`'),
    )
    expect(() => denoKvWorker({ kv: new FakeKv(), tasks: [noop] as never })).toThrow(
      new TypeError('denoKvWorker: expected every entry of `tasks` to come from defineTask(), got `noop` (function)'),
    )
    expect(() => denoKvWorker({ kv: new FakeKv(), tasks: [], timeout: 0 })).toThrow(
      new RangeError('denoKvWorker: expected `timeout` to be more than 0 and at most 2147483647 ms, or `false`, got `0` (number)'),
    )
  })

  it('lists nothing on an empty store', async () => {
    expect(await listDeadLetters(new FakeKv())).toEqual([])
  })

  it('lists a dead letter the worker left no record for (it died during the last delivery) as failed, with its delivery count', async () => {
    const kv = new FakeKv()
    const message = { task: 'crashy', args: [1], id: 'c-1', enqueuedAt: 1, backoffSchedule: [] }
    await kv.atomic().set(['p', 'dead', 'c-1'], message).set(['p', 'attempts', 'c-1'], 3).commit()
    expect(await listDeadLetters(kv, { prefix: ['p'] })).toEqual([
      { id: 'c-1', task: 'crashy', args: [1], message, reason: 'failed', error: undefined, attempts: 3, failedAt: undefined },
    ])
  })
})
