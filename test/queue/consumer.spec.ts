import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type QueueConsumerOptions, queueConsumer } from '../../src/cloudflare/index.ts'
import { defineTask } from '../../src/durable/index.ts'
import { type TaskContext, TaskTimeoutError } from '../../src/index.ts'
import type { Env } from './worker.ts'

// The consumer alone, on batches built by the test: which messages it acks, which it retries
// and with what delay. test/queue/delivery.spec.ts shows the same through a real queue.

const message = (body: unknown, attempts = 1, id = `msg-${attempts}`) => ({ id, timestamp: 0, attempts, body })
const taskMessage = (task: string, args: unknown[], id = 'task-1') => ({ task, args, id, enqueuedAt: 1_700_000_000_000 })

/** Runs a batch through the consumer; `retried` holds each `retry()` call's options, which getQueueResult leaves out. */
const consumeBatch = async (options: QueueConsumerOptions, messages: ReturnType<typeof message>[]) => {
  const batch = createMessageBatch('tasks', messages)
  const retried: { msgId: string; delaySeconds?: number }[] = []
  for (const msg of batch.messages) {
    const retry = msg.retry.bind(msg)
    msg.retry = (retryOptions?: QueueRetryOptions) => {
      retried.push({ msgId: msg.id, ...retryOptions })
      retry(retryOptions)
    }
  }
  const ctx = createExecutionContext()
  await queueConsumer<Env>(options)(batch, env)
  const result = await getQueueResult(batch, ctx)
  // Every retry() reached the batch (and nothing was both acked and retried).
  expect(result.retryMessages.map((retry) => retry.msgId)).toEqual(retried.map((retry) => retry.msgId))
  return { ...result, retried }
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('queueConsumer: runs each message by task name', () => {
  it('runs the task with its id, attempt, name and env, then acks the message', async () => {
    const seen: unknown[] = []
    const greet = defineTask('greet', async function (this: TaskContext<Env>, name: string, times: number) {
      seen.push({ name: this.name, id: this.id, attempt: this.attempt, hasQueue: typeof this.env.TASKS.send, args: [name, times] })
    })
    const result = await consumeBatch({ tasks: [greet] }, [message(taskMessage('greet', ['Ada', 2], 'greet-1'), 2, 'cf-1')])
    expect(seen).toEqual([{ name: 'greet', id: 'greet-1', attempt: 2, hasQueue: 'function', args: ['Ada', 2] }])
    expect(result.explicitAcks).toEqual(['cf-1'])
    expect(result.retried).toEqual([])
  })

  it('retries a failure with backoff from the attempt count (5 s, 10 s, 20 s ...), and reports it to onError', async () => {
    const errors: string[] = []
    const failing = defineTask('failing', () => {
      throw new Error('smtp down')
    })
    const result = await consumeBatch(
      {
        tasks: [failing],
        onError: (error, task, msg) => {
          errors.push(`${task.name} ${task.id} #${task.attempt} (${msg.id}): ${(error as Error).message}`)
        },
      },
      [
        message(taskMessage('failing', [], 'a'), 1),
        message(taskMessage('failing', [], 'b'), 3),
        message(taskMessage('failing', [], 'c'), 20),
      ],
    )
    expect(result.explicitAcks).toEqual([])
    expect(result.retried).toEqual([
      { msgId: 'msg-1', delaySeconds: 5 },
      { msgId: 'msg-3', delaySeconds: 20 },
      { msgId: 'msg-20', delaySeconds: 3600 },
    ])
    expect(errors).toEqual(['failing a #1 (msg-1): smtp down', 'failing b #3 (msg-3): smtp down', 'failing c #20 (msg-20): smtp down'])
  })

  it('takes retryDelaySeconds as a number or a function of the attempt and the error', async () => {
    const failing = defineTask('failing', () => Promise.reject(new Error('later')))
    const fixed = await consumeBatch({ tasks: [failing], retryDelaySeconds: 0, onError: () => {} }, [
      message(taskMessage('failing', []), 2),
    ])
    expect(fixed.retried).toEqual([{ msgId: 'msg-2', delaySeconds: 0 }])
    const computed = await consumeBatch(
      { tasks: [failing], retryDelaySeconds: (attempt, error) => attempt * 60 + (error as Error).message.length, onError: () => {} },
      [message(taskMessage('failing', []), 2)],
    )
    expect(computed.retried).toEqual([{ msgId: 'msg-2', delaySeconds: 125 }])
  })

  it("aborts a delivery at the task's timeout and retries it", async () => {
    let signal: AbortSignal | undefined
    const errors: unknown[] = []
    const hang = defineTask(
      'hang',
      function (this: TaskContext) {
        signal = this.signal
        return new Promise(() => {})
      },
      { timeout: 20 },
    )
    const result = await consumeBatch({ tasks: [hang], retryDelaySeconds: 1, onError: (error) => void errors.push(error) }, [
      message(taskMessage('hang', [])),
    ])
    expect(result.retried).toEqual([{ msgId: 'msg-1', delaySeconds: 1 }])
    expect(signal?.aborted).toBe(true)
    expect(errors).toEqual([new TaskTimeoutError('hang', 20)])
  })

  it('keeps going after a failed message: the others of the batch are still run and acked', async () => {
    const ran: string[] = []
    const step = defineTask('step', (label: string) => {
      ran.push(label)
      if (label === 'bad') throw new Error('bad step')
    })
    const result = await consumeBatch({ tasks: [step], onError: () => {} }, [
      message(taskMessage('step', ['one']), 1, 'm1'),
      message(taskMessage('step', ['bad']), 1, 'm2'),
      message(taskMessage('step', ['three']), 1, 'm3'),
    ])
    expect(ran).toEqual(['one', 'bad', 'three'])
    expect(result.explicitAcks).toEqual(['m1', 'm3'])
    expect(result.retried).toEqual([{ msgId: 'm2', delaySeconds: 5 }])
  })
})

describe('queueConsumer: never runs what it cannot identify', () => {
  it.each([
    [taskMessage('dropTables', []), 'names task "dropTables", which this consumer does not know (it knows "record")'],
    ['hello', 'is not a task message: expected an object like {"task", "args", "id", "enqueuedAt"}, got a string'],
    [null, 'is not a task message: expected an object like {"task", "args", "id", "enqueuedAt"}, got null'],
    [[1, 2], 'is not a task message: expected an object like {"task", "args", "id", "enqueuedAt"}, got an array'],
    [{ ...taskMessage('record', []), task: '' }, 'is not a task message: `task` is not a non-empty string'],
    [{ ...taskMessage('record', []), args: { 0: 'x' } }, 'is not a task message: `args` is not an array'],
    [{ ...taskMessage('record', []), id: 7 }, 'is not a task message: `id` is not a non-empty string'],
    [{ task: 'record', args: [], id: 'x' }, 'is not a task message: `enqueuedAt` is not a number'],
  ])('%j: logged, not run, retried towards the dead-letter queue', async (body, problem) => {
    const logged: string[] = []
    vi.spyOn(console, 'error').mockImplementation((line: unknown) => {
      logged.push(String(line))
    })
    const ran: unknown[] = []
    const record = defineTask('record', (...args: unknown[]) => {
      ran.push(args)
    })
    const result = await consumeBatch({ tasks: [record], retryDelaySeconds: 0 }, [message(body, 1, 'cf-9')])
    expect(ran).toEqual([])
    expect(result.explicitAcks).toEqual([])
    expect(result.retried).toEqual([{ msgId: 'cf-9', delaySeconds: 0 }])
    expect(logged).toEqual([
      `[background-tasks] message cf-9 on queue "tasks" ${problem}; not run, retried so that it ends in the dead-letter queue after max_retries`,
    ])
  })
})

describe('queueConsumer options fail when it is created', () => {
  const one = defineTask('one', () => {})
  it.each([
    [undefined, TypeError, 'queueConsumer: expected `tasks` to be an array of defineTask() tasks, got `undefined` (undefined)'],
    [{ tasks: one }, TypeError, 'queueConsumer: expected `tasks` to be an array of defineTask() tasks, got `[object Object]` (object)'],
    [
      { tasks: [() => {}] },
      TypeError,
      'queueConsumer: expected every entry of `tasks` to come from defineTask(), got `anonymous` (function)',
    ],
    [{ tasks: [one, defineTask('one', () => {})] }, TypeError, 'queueConsumer: two tasks are named "one"; names must be unique'],
    [
      { tasks: [one], retryDelaySeconds: -1 },
      RangeError,
      'queueConsumer: expected `retryDelaySeconds` to be from 0 to 43200 or a function, got `-1` (number)',
    ],
    [{ tasks: [one], timeout: 0 }, RangeError, 'queueConsumer: expected `timeout` to be more than 0'],
    [{ tasks: [one], onError: 'log' }, TypeError, 'queueConsumer: expected `onError` to be a function, got `"log"` (string)'],
    [{ tasks: [one], retries: 3 }, TypeError, 'queueConsumer: unknown option `retries`'],
  ])('%j', (options, type, text) => {
    const create = () => queueConsumer(options as never)
    expect(create).toThrow(type)
    expect(create).toThrow(text)
  })
})
