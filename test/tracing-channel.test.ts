import { AsyncLocalStorage } from 'node:async_hooks'
import { tracingChannel } from 'node:diagnostics_channel'
import { afterEach, describe, expect, it } from 'vitest'
import { queueConsumer } from '../src/cloudflare/index.ts'
import { defineTask } from '../src/durable/index.ts'
import { TASK_CHANNEL, type TaskChannelMessage, task } from '../src/index.ts'
import { deferred, runQuietly as run } from './_support/helpers.ts'

// Each attempt is published on the `hono-background-tasks.task` tracing channel, found through
// process.getBuiltinModule, with Node's traceSync / tracePromise order of events.
const channel = tracingChannel<unknown, TaskChannelMessage>(TASK_CHANNEL)

type Event = 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error'

/** Subscribes to every event of the channel and records `event name #attempt [outcome]`; unsubscribed after each test. */
const subscribe = () => {
  const events: string[] = []
  const messages: TaskChannelMessage[] = []
  const handler =
    (event: Event) =>
    (message: TaskChannelMessage): void => {
      if (!messages.includes(message)) messages.push(message)
      events.push(`${event} ${message.name} #${message.attempt}${message.outcome ? ` ${message.outcome}` : ''}`)
    }
  const subscribers = {
    start: handler('start'),
    end: handler('end'),
    asyncStart: handler('asyncStart'),
    asyncEnd: handler('asyncEnd'),
    error: handler('error'),
  }
  channel.subscribe(subscribers)
  unsubscribers.push(() => channel.unsubscribe(subscribers))
  return { events, messages }
}

const unsubscribers: (() => void)[] = []
afterEach(() => {
  for (const unsubscribe of unsubscribers.splice(0)) unsubscribe()
})

describe('the tracing channel: start, end and error for each attempt [design: Visibility]', () => {
  it("publishes each attempt in Node's order: sync tasks start, [error], end; async ones start, end, [error], asyncStart, asyncEnd", async () => {
    const { events } = subscribe()
    await run({}, (tasks) => {
      tasks.add(function syncOk() {})
      tasks.add(function syncThrows() {
        throw new Error('sync boom')
      })
      tasks.add(async function asyncOk() {})
      tasks.add(async function asyncRejects() {
        throw new TypeError('async boom')
      })
    })
    expect(events).toEqual([
      'start syncOk #1',
      'end syncOk #1 success',
      'start syncThrows #1',
      'error syncThrows #1 error',
      'end syncThrows #1 error',
      'start asyncOk #1',
      'end asyncOk #1',
      'asyncStart asyncOk #1 success',
      'asyncEnd asyncOk #1 success',
      'start asyncRejects #1',
      'end asyncRejects #1',
      'error asyncRejects #1 error',
      'asyncStart asyncRejects #1 error',
      'asyncEnd asyncRejects #1 error',
    ])
  })

  it('a message carries the task, its attempt, its arguments and, once over, its outcome and error', async () => {
    const { events, messages } = subscribe()
    const boom = new Error('first try fails')
    await run({ retries: 1, retryDelay: 0 }, (tasks) => {
      tasks.add(
        task(
          function flaky(this: { attempt: number }, to: string) {
            void to
            if (this.attempt === 1) throw boom
          },
          { name: 'flaky' },
        ),
        'ada@example.com',
      )
    })
    expect(events).toEqual(['start flaky #1', 'error flaky #1 error', 'end flaky #1 error', 'start flaky #2', 'end flaky #2 success'])
    const [first, second] = messages
    expect(first).toMatchObject({
      name: 'flaky',
      attempt: 1,
      args: ['ada@example.com'],
      outcome: 'error',
      error: boom,
      delivery: undefined,
    })
    expect(second).toMatchObject({ name: 'flaky', attempt: 2, outcome: 'success' })
    expect(second?.id).toBe(first?.id)
  })

  it('a timeout is an error event with the TaskTimeoutError, and the abort reason is readable', async () => {
    const { events, messages } = subscribe()
    await run({ timeout: 5 }, (tasks) => {
      tasks.add(function hangs(this: { signal: AbortSignal }) {
        return new Promise((_, reject) => this.signal.addEventListener('abort', () => reject(this.signal.reason)))
      })
    })
    expect(events).toEqual([
      'start hangs #1',
      'end hangs #1',
      'error hangs #1 timeout',
      'asyncStart hangs #1 timeout',
      'asyncEnd hangs #1 timeout',
    ])
    expect(messages[0]?.error).toMatchObject({ name: 'TaskTimeoutError' })
    expect(messages[0]?.abortReason).toBe(messages[0]?.error)
  })

  it("a store bound to start is active while the task runs: an APM's own context reaches the task", async () => {
    const store = new AsyncLocalStorage<string>()
    channel.start.bindStore(store, (message) => `span for ${message.name} #${message.attempt}`)
    unsubscribers.push(() => channel.start.unbindStore(store))
    const seen: (string | undefined)[] = []
    await run({}, (tasks) => {
      tasks.add(async function sendEmail() {
        seen.push(store.getStore())
        await Promise.resolve()
        seen.push(store.getStore())
      })
    })
    expect(seen).toEqual(['span for sendEmail #1', 'span for sendEmail #1'])
  })

  it('publishes the deliveries a queue consumer runs, with where they came from', async () => {
    const { events, messages } = subscribe()
    const welcome = defineTask('welcome', async (to: string) => {
      void to
    })
    const consume = queueConsumer({ tasks: [welcome] })
    const acked = deferred()
    await consume(
      {
        queue: 'tasks',
        messages: [
          {
            id: 'cf-1',
            attempts: 2,
            body: { task: 'welcome', args: ['ada@example.com'], id: 'task-1', enqueuedAt: 0 },
            ack: () => acked.resolve(),
            retry: () => {},
          },
        ],
      },
      {},
    )
    await acked.promise
    expect(events).toEqual(['start welcome #2', 'end welcome #2', 'asyncStart welcome #2 success', 'asyncEnd welcome #2 success'])
    expect(messages[0]).toMatchObject({
      name: 'welcome',
      id: 'task-1',
      args: ['ada@example.com'],
      delivery: { system: 'cloudflare_queues', queue: 'tasks', messageId: 'cf-1', trace: undefined },
    })
  })

  it('publishes nothing once nobody listens, and tasks run the same', async () => {
    const { events } = subscribe()
    for (const unsubscribe of unsubscribers.splice(0)) unsubscribe()
    expect(channel.hasSubscribers).toBe(false)
    const ran: string[] = []
    await run({}, (tasks) => {
      tasks.add(() => ran.push('sync'))
      tasks.add(async () => ran.push('async'))
    })
    expect(ran).toEqual(['sync', 'async'])
    expect(events).toEqual([])
  })
})
