import { Attempt, observeAttempt } from '../attempt.ts'
import { isTask } from '../task.ts'
import type { AttemptResult, Task, TaskDelivery, TaskInfo, TaskInstrumentation, TaskMessage } from '../types.ts'
import { describeValue } from '../validate.ts'
import { parseTaskMessage } from './message.ts'

/** A delivered message whose task was found, or why it was not run. */
export type Lookup =
  | { readonly ok: true; readonly task: Task; readonly message: TaskMessage }
  | {
      readonly ok: false
      /** `malformed`: not a task message; `unknown-task`: it names a task this consumer does not know. */
      readonly reason: 'malformed' | 'unknown-task'
      /** What is wrong, to follow "message 1 on queue "tasks" ...". */
      readonly problem: string
    }

/** One delivery's attempt, started. */
export interface Delivered {
  /** The task as `onError` is told of it. */
  readonly info: TaskInfo
  /** `this` inside the task: a consumer aborts it to give up on the delivery. */
  readonly context: Attempt
  /** How the attempt ended; never rejects. */
  readonly result: AttemptResult | Promise<AttemptResult>
}

/**
 * What every durable consumer shares (Cloudflare's `queueConsumer()`, `bullmqWorker()`): the
 * `defineTask()` tasks it runs, by name, and the one way a delivered message becomes an attempt:
 * parse it, look its task up, run it with `this.id` the task's id and `this.attempt` the delivery
 * count. Nothing runs by guesswork: a message that is not a task message, or names an unknown
 * task, is refused with the reason.
 */
export class DeliveredTasks {
  readonly #tasks = new Map<string, Task>()
  readonly #known: string
  readonly #consumer: string

  /** Checks `tasks` for `api` (every entry from `defineTask()`, no two with one name); `consumer` names the caller in messages. */
  constructor(api: string, tasks: unknown, consumer: 'consumer' | 'worker') {
    if (!Array.isArray(tasks)) {
      throw new TypeError(`${api}: expected \`tasks\` to be an array of defineTask() tasks, got ${describeValue(tasks)}`)
    }
    for (const task of tasks) {
      if (!isTask(task) || !(task as { durable?: unknown }).durable) {
        throw new TypeError(`${api}: expected every entry of \`tasks\` to come from defineTask(), got ${describeValue(task)}`)
      }
      if (this.#tasks.has(task.options.name))
        throw new TypeError(`${api}: two tasks are named "${task.options.name}"; names must be unique`)
      this.#tasks.set(task.options.name, task)
    }
    this.#known = [...this.#tasks.keys()].map((name) => `"${name}"`).join(', ') || 'none'
    this.#consumer = consumer
  }

  /** The task a message's `task` names, if this consumer knows it. */
  get(name: string): Task | undefined {
    return this.#tasks.get(name)
  }

  /** Reads a delivered body as a task message and finds its task. */
  lookUp(body: unknown): Lookup {
    const parsed = parseTaskMessage(body)
    if (typeof parsed === 'string') return { ok: false, reason: 'malformed', problem: `is not a task message: ${parsed}` }
    const task = this.#tasks.get(parsed.task)
    if (!task) {
      const problem = `names task "${parsed.task}", which this ${this.#consumer} does not know (it knows ${this.#known})`
      return { ok: false, reason: 'unknown-task', problem }
    }
    return { ok: true, task, message: parsed }
  }

  /**
   * Starts the attempt of a found task: `attempt` is the delivery count, `env` the task's
   * `this.env`; the task's own `timeout` wins over the consumer's.
   */
  run(
    found: { readonly task: Task; readonly message: TaskMessage },
    attempt: number,
    env: unknown,
    timeout: number | false,
    instrumentation: TaskInstrumentation | undefined,
    delivery: TaskDelivery,
  ): Delivered {
    const { task, message } = found
    const info: TaskInfo = { name: message.task, id: message.id, attempt, args: message.args }
    const context = new Attempt({ fn: task.fn, args: [...message.args], name: info.name, id: info.id }, attempt, env)
    const result = observeAttempt(context, task.options.timeout ?? timeout, instrumentation, undefined, delivery)
    return { info, context, result }
  }
}

/** The default `onError` of every durable consumer: the task, its id, the attempt and the error. */
export const logDeliveryError = (error: unknown, task: TaskInfo): void => {
  console.error(`[background-tasks] durable task "${task.name}" (id ${task.id}) failed on attempt ${task.attempt}:`, error)
}

/** A thrown value as an Error, for a queue that records only errors. */
export const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error), { cause: error }))
