import { AsyncLocalStorage } from 'node:async_hooks'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { defineTask, parseTaskMessage } from '../src/durable/index.ts'
import { type AttemptResult, backgroundTasks, type TaskInstrumentation, type TaskMessage, type TaskTransport } from '../src/index.ts'
import { runQuietly as run } from './_support/helpers.ts'

// The generic hook that the otel subpath is built on: capture() at add(), attempt() around each
// attempt, send() around each hand-over to a transport. User code in it can never stop a task.

const outcomeOf = (result: AttemptResult | Promise<AttemptResult>, done: (result: AttemptResult) => void): void => {
  if (result instanceof Promise) result.then(done)
  else done(result)
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('instrumentation: capture, attempt and send', () => {
  it('capture() runs in the adding code and its value comes back as the origin of every attempt; attempt() wraps the task', async () => {
    const where = new AsyncLocalStorage<string>()
    const events: string[] = []
    const instrumentation: TaskInstrumentation = {
      capture: () => where.getStore(),
      attempt(info, runAttempt) {
        events.push(`before ${info.name} #${info.attempt}${info.attempt > 1 ? ' (retry)' : ''} from ${String(info.origin)}`)
        // The wrapper's own context is the task's.
        const result = where.run(`attempt ${info.attempt}`, runAttempt)
        events.push(`returned ${info.name}`)
        outcomeOf(result, (settled) => events.push(`ended ${info.name} #${info.attempt} ${settled.outcome}`))
      },
    }
    await run({ instrumentation, retries: 1, retryDelay: 0 }, (tasks) => {
      where.run('the handler', () =>
        tasks.add(async function flaky(this: { attempt: number }) {
          events.push(`inside flaky, in ${where.getStore()}`)
          await Promise.resolve()
          if (this.attempt === 1) throw new Error('once')
        }),
      )
    })
    expect(events).toEqual([
      'before flaky #1 from the handler',
      'inside flaky, in attempt 1',
      'returned flaky',
      'ended flaky #1 error',
      'before flaky #2 (retry) from the handler',
      'inside flaky, in attempt 2',
      'returned flaky',
      'ended flaky #2 success',
    ])
  })

  it('tells a timeout and an abort by its result and abortReason', async () => {
    const seen: unknown[] = []
    const instrumentation: TaskInstrumentation = {
      attempt(info, runAttempt) {
        outcomeOf(runAttempt(), (result) => seen.push({ outcome: result.outcome, abortReason: (info.abortReason as Error)?.name }))
      },
    }
    await run({ instrumentation, timeout: 5 }, (tasks) => {
      tasks.add(function hangs(this: { signal: AbortSignal }) {
        return new Promise((_, reject) => this.signal.addEventListener('abort', () => reject(this.signal.reason)))
      })
      tasks.add(() => {
        throw new Error('plain')
      })
    })
    expect(seen).toEqual([
      { outcome: 'timeout', abortReason: 'TaskTimeoutError' },
      { outcome: 'error', abortReason: undefined },
    ])
  })

  it('send() wraps the hand-over and may send copies of the messages that carry a trace context', async () => {
    const sent: TaskMessage[] = []
    const transport: TaskTransport = {
      system: 'test_queue',
      destination: 'tasks',
      async send(messages) {
        sent.push(...messages)
      },
    }
    const infos: unknown[] = []
    const instrumentation: TaskInstrumentation = {
      capture: () => 'request span',
      send(info, runSend) {
        infos.push({ tasks: info.tasks, count: info.messages.length, system: info.transport.system })
        const traced = info.messages.map((message) => ({ ...message, trace: { traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` } }))
        outcomeOf(runSend(traced), (result) => infos.push(result.outcome))
      },
    }
    const welcome = defineTask('welcome', (to: string) => void to)
    await run({ instrumentation, transport }, (tasks) => {
      tasks.add(welcome, 'ada@example.com')
      tasks.add(welcome, 'grace@example.com')
    })
    expect(infos).toEqual([
      {
        tasks: [
          { name: 'welcome', id: sent[0]?.id, origin: 'request span' },
          { name: 'welcome', id: sent[1]?.id, origin: 'request span' },
        ],
        count: 2,
        system: 'test_queue',
      },
      'success',
    ])
    expect(sent.map((message) => message.trace?.traceparent)).toEqual([
      `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`,
      `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`,
    ])
    // What went to the queue comes back out of it with its trace context.
    expect(parseTaskMessage(JSON.parse(JSON.stringify(sent[0])))).toEqual(sent[0])
  })

  it('a hook that throws, or never calls run, is logged once and the work happens exactly once', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {})
    const ran: string[] = []
    const sent: TaskMessage[] = []
    const transport: TaskTransport = {
      async send(messages) {
        sent.push(...messages)
      },
    }
    const throwing: TaskInstrumentation = {
      capture() {
        throw new Error('capture broke')
      },
      attempt(_info, runAttempt) {
        runAttempt()
        throw new Error('attempt broke after run')
      },
      send() {
        throw new Error('send broke before run')
      },
    }
    const welcome = defineTask('welcome', (to: string) => void to)
    await run({ instrumentation: throwing, transport }, (tasks) => {
      tasks.add(() => ran.push('first'))
      tasks.add(welcome, 'ada@example.com')
    })
    const lazy: TaskInstrumentation = { attempt() {}, send: async () => {} }
    await run({ instrumentation: lazy, transport }, (tasks) => {
      tasks.add(() => ran.push('second'))
      tasks.add(welcome, 'grace@example.com')
    })
    expect(ran).toEqual(['first', 'second'])
    expect(sent.map((message) => message.args)).toEqual([['ada@example.com'], ['grace@example.com']])
    expect(error.mock.calls.map(([line, thrown]) => `${line} ${(thrown as Error).message}`)).toEqual([
      "[background-tasks] the instrumentation's capture() threw: capture broke",
      "[background-tasks] the instrumentation's capture() threw: capture broke",
      "[background-tasks] the instrumentation's attempt() threw: attempt broke after run",
      "[background-tasks] the instrumentation's send() threw: send broke before run",
    ])
  })

  it('is checked when the factory is called', () => {
    expect(() => backgroundTasks({ instrumentation: 'otel' as unknown as TaskInstrumentation })).toThrow(
      new TypeError('backgroundTasks: expected `instrumentation` to be an object like taskTracing() returns, got `"otel"` (string)'),
    )
    expect(() => backgroundTasks({ instrumentation: { attempt: true } as unknown as TaskInstrumentation })).toThrow(
      new TypeError('backgroundTasks: expected `instrumentation.attempt` to be a function, got `true` (boolean)'),
    )
  })
})

describe('parseTaskMessage and trace context', () => {
  const body = { task: 'welcome', args: [], id: 'task-1', enqueuedAt: 1 }

  it('keeps a trace context, and reads messages without one (sent before tracing was on) as before', () => {
    expect(parseTaskMessage(body)).toEqual(body)
    expect(parseTaskMessage({ ...body, trace: { traceparent: 'tp', tracestate: 'vendor=1' } })).toEqual({
      ...body,
      trace: { traceparent: 'tp', tracestate: 'vendor=1' },
    })
  })

  it('drops a trace context it cannot use rather than refuse the task', () => {
    for (const trace of [null, 'tp', 42, {}, { traceparent: '' }, { traceparent: 7 }])
      expect(parseTaskMessage({ ...body, trace })).toEqual(body)
    expect(parseTaskMessage({ ...body, trace: { traceparent: 'tp', tracestate: 3 } })).toEqual({ ...body, trace: { traceparent: 'tp' } })
  })
})
