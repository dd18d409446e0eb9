import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { cloudflareQueue, type QueueProducer } from '../src/cloudflare/index.ts'
import { defineTask } from '../src/durable/index.ts'
import { checkJsonArgs } from '../src/durable/json.ts'
import { type BackgroundTasksEnv, backgroundTasks, drainTasks, type TaskMessage } from '../src/index.ts'

const circular: Record<string, unknown> = { name: 'loop' }
circular.self = { back: circular }
class User {
  name = 'Ada'
}

describe('durable task arguments must survive JSON, checked at add() [design: Bad input]', () => {
  it.each([
    [[{ user: { createdAt: 10n } }], '`args[0].user.createdAt`: a BigInt'],
    [
      ['ok', new Date(0)],
      'argument 1 of durable task "t" is not JSON-serialisable at `args[1]`: a Date (JSON turns it into a string; pass `date.toISOString()` or `date.getTime()`)',
    ],
    [[{ tags: new Set(['a']) }], '`args[0].tags`: an instance of Set (only plain objects and arrays survive JSON)'],
    [[{ byId: new Map() }], '`args[0].byId`: an instance of Map (only plain objects and arrays survive JSON)'],
    [[new User()], '`args[0]`: an instance of User (only plain objects and arrays survive JSON)'],
    [[new Uint8Array(2)], '`args[0]`: an instance of Uint8Array (only plain objects and arrays survive JSON)'],
    [[{ score: Number.NaN }], '`args[0].score`: `NaN` (JSON turns it into `null`)'],
    [[[1, Number.POSITIVE_INFINITY]], '`args[0][1]`: `Infinity` (JSON turns it into `null`)'],
    [[{ list: [1, undefined] }], '`args[0].list[1]`: `undefined` (JSON turns it into `null` here; pass `null`)'],
    [[{ list: new Array(2).fill(1, 0, 1) }], '`args[0].list[1]`: `undefined` (JSON turns it into `null` here; pass `null`)'],
    [[undefined, 'x'], '`args[0]`: `undefined` (JSON turns it into `null` here; pass `null`)'],
    [[{ onDone: function notify() {} }], '`args[0].onDone`: a function (`notify`)'],
    [[{ kind: Symbol('x') }], '`args[0].kind`: a symbol'],
    [[{ [Symbol('x')]: 1 }], '`args[0]`: an object with symbol keys (JSON drops them)'],
    [[{ 'first name': 1n }], '`args[0]["first name"]`: a BigInt'],
    [[circular], '`args[0].self.back`: a circular reference'],
  ])('%#: %s', (args, problem) => {
    const check = () => checkJsonArgs('t', args)
    expect(check).toThrow(TypeError)
    expect(check).toThrow(problem)
  })

  it('says it on one line, naming the task, the argument and the path', () => {
    expect(() => checkJsonArgs('sendWelcomeEmail', [{ user: { createdAt: 10n } }])).toThrow(
      new TypeError(
        'tasks.add: argument 0 of durable task "sendWelcomeEmail" is not JSON-serialisable at `args[0].user.createdAt`: a BigInt',
      ),
    )
  })

  it('accepts what JSON carries as it is: plain objects, arrays, strings, finite numbers, booleans, null, shared references', () => {
    const shared = { id: 1 }
    const args = ['a', 1.5, -0, true, null, [shared, shared], { nested: { list: [] }, shared }, Object.create(null)]
    expect(checkJsonArgs('t', args)).toEqual(args)
  })

  it('leaves out trailing undefined arguments and undefined properties, which JSON drops and read back as undefined', () => {
    expect(checkJsonArgs('t', ['a', undefined, undefined])).toEqual(['a'])
    expect(checkJsonArgs('t', [{ a: 1, b: undefined }])).toEqual([{ a: 1, b: undefined }])
  })

  it('throws from c.var.tasks.add() in the handler, before anything is queued', async () => {
    const sent: unknown[] = []
    const task = defineTask('sendWelcomeEmail', (payload: { user: { createdAt: unknown } }) => void payload)
    const app = new Hono<BackgroundTasksEnv>()
    app.use(backgroundTasks({ transport: { send: async (messages) => void sent.push(messages) } }))
    app.post('/', (c) => {
      try {
        c.var.tasks.add(task, { user: { createdAt: 10n } })
      } catch (error) {
        return c.text(String(error), 400)
      }
      return c.text('ok')
    })
    const res = await app.request('/', { method: 'POST' })
    expect(await res.text()).toBe(
      'TypeError: tasks.add: argument 0 of durable task "sendWelcomeEmail" is not JSON-serialisable at `args[0].user.createdAt`: a BigInt',
    )
    expect(sent).toEqual([])
  })
})

describe('defineTask() fails when it is called, on bad input [design: Bad input]', () => {
  it.each([
    ['', () => {}, {}, TypeError, 'defineTask: expected the name to be a non-empty string, got `""` (string)'],
    [42, () => {}, {}, TypeError, 'defineTask: expected the name to be a non-empty string, got `42` (number)'],
    ['t', 'fn', {}, TypeError, 'defineTask: expected a function for task "t", got `"fn"` (string)'],
    ['t', () => {}, { name: 'other' }, TypeError, 'defineTask: unknown option `name`'],
    ['t', () => {}, { retries: -1 }, RangeError, 'defineTask: expected `retries` to be a whole number from 0 to 100, got `-1` (number)'],
    ['t', () => {}, { transport: {} }, TypeError, 'defineTask: expected `transport` to be a transport: an object with a `send` function'],
  ])('defineTask(%j, %s, %j)', (name, fn, options, type, message) => {
    const define = () => defineTask(name as never, fn as never, options as never)
    expect(define).toThrow(type)
    expect(define).toThrow(message)
  })

  it('freezes the task and names it', () => {
    const task = defineTask('welcome', () => {}, { timeout: 5_000, always: true })
    expect(task.options).toEqual({ name: 'welcome', timeout: 5_000, always: true })
    expect(Object.isFrozen(task)).toBe(true)
    expect(typeof task.durable.checkArgs).toBe('function')
    expect(typeof task.durable.send).toBe('function')
  })

  it('refuses at add() a durable task that no defineTask() of this copy made, rather than jam the request', async () => {
    const real = defineTask('mail', () => {})
    // What another copy or an older version of defineTask() would build: no sender.
    const foreign = { fn: real.fn, options: real.options, durable: { checkArgs: real.durable.checkArgs } } as unknown as typeof real
    const app = new Hono<BackgroundTasksEnv>()
    app.use(backgroundTasks())
    let thrown: unknown
    app.get('/', (c) => {
      try {
        c.var.tasks.add(foreign)
      } catch (error) {
        thrown = error
      }
      return c.text('ok')
    })
    const res = await app.request('/')
    expect(await res.text()).toBe('ok')
    expect(thrown).toBeInstanceOf(TypeError)
    expect((thrown as Error).message).toBe(
      'tasks.add: task "mail" is durable but was not made by this copy\'s defineTask(), which gives it its sender; import defineTask from the same hono-background-tasks as backgroundTasks',
    )
    expect(await drainTasks({ timeout: 1_000 })).toEqual({ finished: [], unfinished: [] })
  })
})

/** A stand-in producer binding that records each sendBatch, failing the calls listed in `failOn`. */
const producer = (failOn: number[] = []) => {
  const batches: { body: unknown; contentType?: string }[][] = []
  const binding: QueueProducer = {
    async sendBatch(messages) {
      if (failOn.includes(batches.length)) {
        batches.push([])
        throw new Error('queue is full')
      }
      batches.push([...messages])
    },
  }
  return { binding, batches }
}

const messages = (count: number, args: unknown[] = []): TaskMessage[] =>
  Array.from({ length: count }, (_, i) => ({ task: 'audit', args, id: `id-${i}`, enqueuedAt: 0 }))

const contextWith = (env: unknown) => ({ env }) as never

describe('cloudflareQueue()', () => {
  it('sends the messages as JSON in one sendBatch on the binding named on c.env', async () => {
    const { binding, batches } = producer()
    await cloudflareQueue('TASKS').send(messages(2), contextWith({ TASKS: binding }))
    expect(batches).toEqual([
      [
        { body: { task: 'audit', args: [], id: 'id-0', enqueuedAt: 0 }, contentType: 'json' },
        { body: { task: 'audit', args: [], id: 'id-1', enqueuedAt: 0 }, contentType: 'json' },
      ],
    ])
  })

  it('accepts a function returning the binding, called with c', async () => {
    const { binding, batches } = producer()
    const seen: unknown[] = []
    const c = contextWith({ nested: { queue: binding } })
    await cloudflareQueue((context) => {
      seen.push(context)
      return (context.env as { nested: { queue: QueueProducer } }).nested.queue
    }).send(messages(1), c)
    expect(seen).toEqual([c])
    expect(batches).toHaveLength(1)
  })

  it("splits what does not fit Cloudflare's limits: 100 messages, 256 KB per sendBatch", async () => {
    const { binding, batches } = producer()
    await cloudflareQueue('TASKS').send(messages(250), contextWith({ TASKS: binding }))
    expect(batches.map((batch) => batch.length)).toEqual([100, 100, 50])

    const big = producer()
    await cloudflareQueue('TASKS').send(messages(5, ['x'.repeat(100_000)]), contextWith({ TASKS: big.binding }))
    expect(big.batches.map((batch) => batch.length)).toEqual([2, 2, 1])
  })

  it('reports each message exactly: a failed sendBatch refuses its own messages only', async () => {
    const { binding, batches } = producer([1])
    const results = await cloudflareQueue('TASKS').send(messages(250), contextWith({ TASKS: binding }))
    expect(batches.map((batch) => batch.length)).toEqual([100, 0, 50])
    const statuses = results?.map((result) => result.status)
    expect(statuses).toEqual([...Array(100).fill('fulfilled'), ...Array(100).fill('rejected'), ...Array(50).fill('fulfilled')])
    expect((results![100] as PromiseRejectedResult).reason).toEqual(new Error('queue is full'))
  })

  it('refuses a message over 128 KB alone at send, and still sends its neighbours', async () => {
    const { binding, batches } = producer()
    const big: TaskMessage = { task: 'report', args: ['x'.repeat(128_000)], id: 'big', enqueuedAt: 0 }
    const results = await cloudflareQueue('TASKS').send([...messages(1), big, ...messages(1)], contextWith({ TASKS: binding }))
    expect(batches.map((batch) => batch.length)).toEqual([2])
    expect(results?.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(String((results![1] as PromiseRejectedResult).reason)).toBe(
      'RangeError: cloudflareQueue: expected durable task "report" to fit one Cloudflare Queues message (at most 128,000 bytes of JSON, envelope included), got 128,055 bytes; pass a key to the data (R2, KV) instead of the data',
    )
  })

  it('rejects, naming the binding, when c.env does not have it', async () => {
    await expect(cloudflareQueue('TASKS').send(messages(1), contextWith({}))).rejects.toThrow(
      new TypeError(
        'cloudflareQueue: `c.env.TASKS` is not a queue producer binding; declare it in wrangler.toml under [[queues.producers]]',
      ),
    )
    await expect(cloudflareQueue(() => undefined as never).send(messages(1), contextWith({}))).rejects.toThrow(
      'cloudflareQueue: the function given to cloudflareQueue() is not a queue producer binding',
    )
  })

  it.each([[''], [42], [undefined]])('refuses %j as the binding', (queue) => {
    expect(() => cloudflareQueue(queue as never)).toThrow(
      new TypeError(
        `cloudflareQueue: expected the name of a queue binding or a function returning one, got ${queue === '' ? '`""` (string)' : `\`${queue}\` (${typeof queue})`}`,
      ),
    )
  })
})
