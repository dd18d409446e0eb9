import { type Context, Hono } from 'hono'
import { describe, expect, expectTypeOf, it } from 'vitest'
import { defineTask } from '../src/durable/index.ts'
import {
  type BackgroundTasksEnv,
  type BackgroundTasksOptions,
  backgroundTasks,
  drainTasks,
  pendingTasks,
  type TaskContext,
  type TaskEndInfo,
  type TaskMessage,
  TaskSendError,
  TaskTimeoutError,
  type TaskTransport,
} from '../src/index.ts'
import { settled } from '../src/testing.ts'
import { deferred, recordingExecutionContext } from './_support/helpers.ts'

/** A transport that records each send in `events`, held at `gate` when one is given. */
const recordingTransport = (events: string[], gate?: Promise<void>) => {
  const sent: TaskMessage[][] = []
  const transport: TaskTransport = {
    async send(messages, c) {
      events.push(`send ${messages.map((m) => m.task).join(', ')} (${c.req.method} ${c.req.path})`)
      await gate
      sent.push([...messages])
      events.push('sent')
    },
  }
  return { transport, sent }
}

const serve = (options: BackgroundTasksOptions, handler: (c: Context<BackgroundTasksEnv>) => Response | Promise<Response>) => {
  const app = new Hono<BackgroundTasksEnv>()
  app.use(backgroundTasks(options))
  app.post('/register', handler)
  return app
}

const call = async (app: Hono<BackgroundTasksEnv>, env?: unknown) => {
  const res = await app.request('/register', { method: 'POST' }, env)
  const body = await res.text()
  await settled(res)
  return { res, body }
}

const sendWelcomeEmail = defineTask('sendWelcomeEmail', async (to: string, user: { name: string }) => {
  void [to, user]
})
const auditLog = defineTask('auditLog', (entry: string) => {
  void entry
})

describe('durable tasks with a transport: sent after the response instead of run', () => {
  it('sends after the response, in one batch per request, inside the single waitUntil', async () => {
    const events: string[] = []
    const gate = deferred()
    const { transport, sent } = recordingTransport(events, gate.promise)
    const { ctx, calls } = recordingExecutionContext()
    const app = serve({ transport }, (c) => {
      c.var.tasks.add(sendWelcomeEmail, 'ada@example.com', { name: 'Ada' })
      c.var.tasks.add(auditLog, 'registered ada')
      events.push('handler returned')
      return c.text('created', 201)
    })
    const res = await app.request('/register', { method: 'POST' }, {}, ctx)
    expect(res.status).toBe(201)
    expect(calls).toHaveLength(1)
    expect(events).toEqual(['handler returned'])
    expect(await res.text()).toBe('created')
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(events).toEqual(['handler returned', 'send sendWelcomeEmail, auditLog (POST /register)'])
    gate.resolve()
    await calls[0]?.promise
    expect(events.at(-1)).toBe('sent')
    expect(sent).toEqual([
      [
        { task: 'sendWelcomeEmail', args: ['ada@example.com', { name: 'Ada' }], id: expect.any(String), enqueuedAt: expect.any(Number) },
        { task: 'auditLog', args: ['registered ada'], id: expect.any(String), enqueuedAt: expect.any(Number) },
      ],
    ])
    expect(new Set(sent[0]?.map((m) => m.id)).size).toBe(2)
  })

  it('keeps the order with in-process tasks: a durable task is sent once the tasks before it have settled', async () => {
    const events: string[] = []
    const { transport } = recordingTransport(events)
    const app = serve({ transport }, (c) => {
      c.var.tasks.add(function writeAudit() {
        events.push('writeAudit ran')
      })
      c.var.tasks.add(sendWelcomeEmail, 'ada@example.com', { name: 'Ada' })
      c.var.tasks.add(auditLog, 'one')
      c.var.tasks.add(function pingWebhook() {
        events.push('pingWebhook ran')
      })
      c.var.tasks.add(auditLog, 'two')
      return c.text('ok')
    })
    await call(app)
    expect(events).toEqual([
      'writeAudit ran',
      'send sendWelcomeEmail, auditLog (POST /register)',
      'sent',
      'pingWebhook ran',
      'send auditLog (POST /register)',
      'sent',
    ])
  })

  it('reports sends to the hooks with the outcome `sent`, and logs them', async () => {
    const lines: string[] = []
    const ends: TaskEndInfo[] = []
    const starts: string[] = []
    const { transport } = recordingTransport([])
    const app = serve(
      {
        transport,
        log: (line) => lines.push(line.replace(/\d+ ms/, 'N ms')),
        onTaskStart: (task) => void starts.push(`${task.name} #${task.attempt}`),
        onTaskEnd: (task) => void ends.push(task),
      },
      (c) => {
        c.var.tasks.add(auditLog, 'one')
        return c.text('ok')
      },
    )
    await call(app)
    expect(starts).toEqual(['auditLog #1'])
    expect(ends).toEqual([
      {
        name: 'auditLog',
        id: expect.any(String),
        attempt: 1,
        args: ['one'],
        outcome: 'sent',
        duration: expect.any(Number),
        willRetry: false,
      },
    ])
    expect(lines).toEqual(['[background-tasks] auditLog: sent to the queue in N ms (POST /register)'])
  })

  it('reports a failed send to onError once per task, by name, and goes on with the next tasks', async () => {
    const errors: unknown[] = []
    const names: string[] = []
    const events: string[] = []
    const failing: TaskTransport = {
      send: async () => {
        throw new Error('queue unavailable')
      },
    }
    const app = serve(
      {
        transport: failing,
        onError: (error, task) => {
          errors.push(error)
          names.push(task.name)
        },
      },
      (c) => {
        c.var.tasks.add(sendWelcomeEmail, 'ada@example.com', { name: 'Ada' })
        c.var.tasks.add(auditLog, 'one')
        c.var.tasks.add(() => void events.push('in-process task still ran'))
        return c.text('ok')
      },
    )
    await call(app)
    expect(names).toEqual(['sendWelcomeEmail', 'auditLog'])
    expect(errors).toEqual([
      new TaskSendError('sendWelcomeEmail', new Error('queue unavailable')),
      new TaskSendError('auditLog', new Error('queue unavailable')),
    ])
    expect((errors[0] as Error).message).toBe('task "sendWelcomeEmail" could not be sent to its transport: queue unavailable')
    expect((errors[0] as Error).cause).toEqual(new Error('queue unavailable'))
    expect(events).toEqual(['in-process task still ran'])
  })

  it('gives a send that hangs the middleware timeout, then reports it', async () => {
    const errors: unknown[] = []
    const hanging: TaskTransport = { send: () => new Promise(() => {}) }
    const app = serve({ transport: hanging, timeout: 20, onError: (error) => void errors.push(error) }, (c) => {
      c.var.tasks.add(auditLog, 'one')
      return c.text('ok')
    })
    await call(app)
    expect(errors).toHaveLength(1)
    expect((errors[0] as TaskSendError).cause).toBeInstanceOf(TaskTimeoutError)
  })

  it("sends a task with its own transport there, and not through the middleware's", async () => {
    const events: string[] = []
    const own = recordingTransport(events)
    const shared = recordingTransport(events)
    const billing = defineTask('billing', (invoice: number) => void invoice, { transport: own.transport })
    const app = serve({ transport: shared.transport }, (c) => {
      c.var.tasks.add(billing, 42)
      c.var.tasks.add(auditLog, 'one')
      return c.text('ok')
    })
    await call(app)
    expect(own.sent.map((batch) => batch.map((m) => m.task))).toEqual([['billing']])
    expect(shared.sent.map((batch) => batch.map((m) => m.task))).toEqual([['auditLog']])
  })

  it('skips durable tasks when the handler threw, except `always` ones, which are still sent', async () => {
    const { transport, sent } = recordingTransport([])
    const failureEmail = defineTask('failureEmail', (reason: string) => void reason, { always: true })
    const app = serve({ transport }, (c) => {
      c.var.tasks.add(auditLog, 'skipped')
      c.var.tasks.add(failureEmail, 'boom')
      throw new Error('boom')
    })
    app.onError((_, c) => c.text('failed', 500))
    const { res } = await call(app)
    expect(res.status).toBe(500)
    expect(sent).toEqual([[{ task: 'failureEmail', args: ['boom'], id: expect.any(String), enqueuedAt: expect.any(Number) }]])
  })

  it('sends tasks added by a running in-process task in a later batch', async () => {
    const { transport, sent } = recordingTransport([])
    const app = serve({ transport }, (c) => {
      c.var.tasks.add(() => {
        c.var.tasks.add(auditLog, 'nested')
      })
      return c.text('ok')
    })
    await call(app)
    expect(sent.map((batch) => batch.map((m) => m.args))).toEqual([[['nested']]])
  })
})

describe('the transport contract: per-message results, checks at add(), sends before the response', () => {
  it('reports exactly the messages a transport refused, and the others as sent', async () => {
    const ends: string[] = []
    const errors: unknown[] = []
    const partial: TaskTransport = {
      send: async (messages) =>
        messages.map((m, i) =>
          i === 1
            ? { status: 'rejected' as const, reason: new Error(`refused ${m.args[0]}`) }
            : { status: 'fulfilled' as const, value: 'ok' },
        ),
    }
    const app = serve(
      {
        transport: partial,
        onTaskEnd: (task) => void ends.push(`${task.args[0]} ${task.outcome}`),
        onError: (error) => void errors.push(error),
      },
      (c) => {
        for (const label of ['a', 'b', 'c']) c.var.tasks.add(auditLog, label)
        return c.text('ok')
      },
    )
    await call(app)
    expect(ends).toEqual(['a sent', 'b error', 'c sent'])
    expect(errors).toEqual([new TaskSendError('auditLog', new Error('refused b'))])
  })

  it('reports every message as failed when the results do not match the messages', async () => {
    const errors: string[] = []
    const broken: TaskTransport = { send: async () => [{ status: 'fulfilled', value: undefined }] }
    const app = serve({ transport: broken, onError: (error) => void errors.push((error as Error).message) }, (c) => {
      c.var.tasks.add(auditLog, 'a')
      c.var.tasks.add(auditLog, 'b')
      return c.text('ok')
    })
    await call(app)
    expect(errors).toEqual([
      'task "auditLog" could not be sent to its transport: the transport\'s send() resolved with 1 results for 2 messages; expected nothing or one result per message',
      'task "auditLog" could not be sent to its transport: the transport\'s send() resolved with 1 results for 2 messages; expected nothing or one result per message',
    ])
  })

  it("passes each task's own options to send()", async () => {
    const seen: unknown[] = []
    const transport: TaskTransport = {
      send: async (_, __, options) => void seen.push(options?.map((o) => [o.name, o.retries])),
    }
    const retried = defineTask('retried', (n: number) => void n, { retries: 3 })
    const app = serve({ transport }, (c) => {
      c.var.tasks.add(retried, 1)
      c.var.tasks.add(auditLog, 'x')
      return c.text('ok')
    })
    await call(app)
    expect(seen).toEqual([
      [
        ['retried', 3],
        ['auditLog', undefined],
      ],
    ])
  })

  it('lets the transport refuse a task at add(), with the message it would send, and keeps the others', async () => {
    const checked: TaskMessage[] = []
    const transport: TaskTransport = {
      check(message) {
        checked.push(message)
        if (message.args[0] === 'too big') throw new RangeError(`tasks.add: "${message.task}" is too big`)
      },
      send: async () => {},
    }
    let thrown: unknown
    const app = serve({ transport }, (c) => {
      c.var.tasks.add(auditLog, 'fine')
      try {
        c.var.tasks.add(auditLog, 'too big')
      } catch (error) {
        thrown = error
      }
      return c.json({ size: c.var.tasks.size })
    })
    const { body } = await call(app)
    expect(thrown).toEqual(new RangeError('tasks.add: "auditLog" is too big'))
    expect(JSON.parse(body)).toEqual({ size: 1 })
    expect(checked).toEqual([
      { task: 'auditLog', args: ['fine'], id: expect.any(String), enqueuedAt: expect.any(Number) },
      { task: 'auditLog', args: ['too big'], id: expect.any(String), enqueuedAt: expect.any(Number) },
    ])
  })

  it("gives the check the task's own options, so that a transport can refuse retries its queue cannot give", async () => {
    const seen: unknown[] = []
    const transport: TaskTransport = {
      check(message, options) {
        seen.push([message.task, options])
        if ((options.retries ?? 0) > 5) throw new RangeError(`tasks.add: "${message.task}" asks for ${options.retries} retries`)
      },
      send: async () => {},
    }
    const patient = defineTask('patient', (n: number) => void n, { retries: 2, retryDelay: 50 })
    const greedy = defineTask('greedy', (n: number) => void n, { retries: 9 })
    let thrown: unknown
    const app = serve({ transport }, (c) => {
      c.var.tasks.add(patient, 1)
      try {
        c.var.tasks.add(greedy, 2)
      } catch (error) {
        thrown = error
      }
      return c.json({ size: c.var.tasks.size })
    })
    const { body } = await call(app)
    expect(JSON.parse(body)).toEqual({ size: 1 })
    expect(thrown).toEqual(new RangeError('tasks.add: "greedy" asks for 9 retries'))
    expect(seen).toEqual([
      ['patient', { name: 'patient', retries: 2, retryDelay: 50 }],
      ['greedy', { name: 'greedy', retries: 9 }],
    ])
  })

  it('sends before the response when the transport asks for it: the response waits for the queue', async () => {
    const events: string[] = []
    const gate = deferred()
    const started = deferred()
    const sent: TaskMessage[] = []
    const transport: TaskTransport = {
      beforeResponse: true,
      async send(messages) {
        events.push(`send ${messages.map((m) => m.args[0]).join(', ')}`)
        started.resolve()
        await gate.promise
        sent.push(...messages)
        events.push('sent')
      },
    }
    const app = serve({ transport }, (c) => {
      c.var.tasks.add(auditLog, 'one')
      c.var.tasks.add(() => void events.push('in-process task ran'))
      c.var.tasks.add(auditLog, 'two')
      events.push('handler returned')
      return c.text('created', 201)
    })
    const responded = Promise.resolve(app.request('/register', { method: 'POST' })).then((res) => {
      events.push(`response ${res.status}`)
      return res
    })
    await started.promise
    expect(events).toEqual(['handler returned', 'send one, two'])
    gate.resolve()
    const res = await responded
    expect(await res.text()).toBe('created')
    await settled(res)
    expect(events).toEqual(['handler returned', 'send one, two', 'sent', 'response 201', 'in-process task ran'])
    expect(sent.map((m) => m.args[0])).toEqual(['one', 'two'])
  })

  it('sends only `always` tasks before the response when the handler threw', async () => {
    const sent: string[] = []
    const transport: TaskTransport = { beforeResponse: true, send: async (messages) => void sent.push(...messages.map((m) => m.task)) }
    const failureEmail = defineTask('failureEmail', (reason: string) => void reason, { always: true })
    const app = serve({ transport }, (c) => {
      c.var.tasks.add(auditLog, 'skipped')
      c.var.tasks.add(failureEmail, 'boom')
      throw new Error('boom')
    })
    app.onError((_, c) => c.text('failed', 500))
    const { res } = await call(app)
    expect(res.status).toBe(500)
    expect(sent).toEqual(['failureEmail'])
  })
})

describe('sends in flight are part of the in-process drain', () => {
  it.each([
    ['after the response', false],
    ['before the response', true],
  ])('sent %s: listed as running, waited for by drainTasks(), named at its deadline', async (_, beforeResponse) => {
    const started = deferred()
    const gate = deferred()
    const transport: TaskTransport = {
      beforeResponse,
      async send() {
        started.resolve()
        await gate.promise
      },
    }
    const app = serve({ transport, timeout: false }, (c) => {
      c.var.tasks.add(auditLog, 'held')
      return c.text('ok')
    })
    const responded = app.request('/register', { method: 'POST' })
    await started.promise
    expect(pendingTasks()).toEqual([{ name: 'auditLog', state: 'running', request: 'POST /register' }])
    expect(await drainTasks({ timeout: 1 })).toEqual({ finished: [], unfinished: ['auditLog'] })
    const drained = drainTasks({ timeout: false })
    gate.resolve()
    await (await responded).text()
    expect(await drained).toEqual({ finished: ['auditLog'], unfinished: [] })
    expect(pendingTasks()).toEqual([])
  })
})

describe('durable tasks without a transport run in-process', () => {
  it('runs them like any task, with this.id, this.env and the checked arguments', async () => {
    const seen: unknown[] = []
    const greet = defineTask('greet', function (this: TaskContext<{ GREETING: string }>, name: string, suffix?: string) {
      seen.push({
        name: this.name,
        id: typeof this.id,
        attempt: this.attempt,
        greeting: this.env.GREETING,
        args: [name, suffix],
      })
    })
    const added: unknown[] = []
    const app = serve({ onTaskStart: (task) => void added.push(task.args) }, (c) => {
      c.var.tasks.add(greet, 'Ada', undefined)
      return c.text('ok')
    })
    await call(app, { GREETING: 'hello' })
    expect(seen).toEqual([{ name: 'greet', id: 'string', attempt: 1, greeting: 'hello', args: ['Ada', undefined] }])
    // A trailing `undefined` is left out, as it would be on the queue.
    expect(added).toEqual([['Ada']])
  })

  it('still checks their arguments at add(), so that a test without a queue catches them', async () => {
    const app = serve({}, (c) => {
      c.var.tasks.add(auditLog, new Date(0) as never)
      return c.text('ok')
    })
    app.onError((error, c) => c.text(error.message, 500))
    const { body } = await call(app)
    expect(body).toBe(
      'tasks.add: argument 0 of durable task "auditLog" is not JSON-serialisable at `args[0]`: a Date (JSON turns it into a string; pass `date.toISOString()` or `date.getTime()`)',
    )
  })
})

describe('every task gets an id', () => {
  it('is stable across the retries of one add(), and differs between adds', async () => {
    const ids: string[] = []
    const app = serve({ retries: 1, retryDelay: 0, onError: () => {} }, (c) => {
      const flaky = function (this: TaskContext) {
        ids.push(this.id)
        if (this.attempt === 1) throw new Error('once')
      }
      c.var.tasks.add(flaky)
      c.var.tasks.add(flaky)
      return c.text('ok')
    })
    await call(app)
    expect(ids).toHaveLength(4)
    expect(ids[0]).toBe(ids[1])
    expect(ids[2]).toBe(ids[3])
    expect(ids[0]).not.toBe(ids[2])
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/)
  })
})

describe('bad transport options fail when the factory is called', () => {
  it.each([
    [
      { transport: {} },
      'backgroundTasks: expected `transport` to be a transport: an object with a `send` function, got `[object Object]` (object)',
    ],
    [
      { transport: 'TASKS' },
      'backgroundTasks: expected `transport` to be a transport: an object with a `send` function, got `"TASKS"` (string)',
    ],
  ])('%j', (options, message) => {
    expect(() => backgroundTasks(options as never)).toThrow(new TypeError(message))
  })
})

describe('types', () => {
  it('checks add() arguments against a defineTask() function, and types this.env', () => {
    interface Env {
      EMAIL: { send(to: string): Promise<void> }
    }
    const welcome = defineTask('welcome', async function (this: TaskContext<Env>, to: string, attempt?: number) {
      expectTypeOf(this.env.EMAIL.send).toBeFunction()
      expectTypeOf(this.id).toEqualTypeOf<string>()
      await this.env.EMAIL.send(to)
      void attempt
    })
    const app = new Hono<BackgroundTasksEnv>()
    app.get('/', (c) => {
      c.var.tasks.add(welcome, 'ada@example.com')
      c.var.tasks.add(welcome, 'ada@example.com', 2)
      // @ts-expect-error wrong argument type
      c.var.tasks.add(welcome, 42)
      // @ts-expect-error missing argument
      c.var.tasks.add(welcome)
      return c.text('ok')
    })
  })
})
