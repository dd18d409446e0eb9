import type { Context } from 'hono'
import { describeRequest, type ResolvedOptions } from './options.ts'
import { isTask, taskName } from './task.ts'
import type { BackgroundTasks, Task, TaskFunction, TaskOptions, TaskTransport } from './types.ts'
import { describeValue } from './validate.ts'

/** One added task and where it is in its life. */
export interface Entry {
  readonly fn: TaskFunction
  readonly args: unknown[]
  readonly name: string
  readonly options: Readonly<TaskOptions>
  /** `this.id` in the task, and its queue message's id. */
  readonly id: string
  /** A durable task with a transport is sent there instead of being run. */
  readonly transport?: TaskTransport
  state: 'waiting' | 'running' | 'done' | 'skipped'
  /** Aborts the attempt that is running now. */
  controller?: AbortController
}

/**
 * The per-request task list behind `c.var.tasks`. It collects while the handler runs and until
 * the response is finished, accepts nested adds while it runs, and refuses adds once it is done.
 */
export class TaskList implements BackgroundTasks {
  readonly entries: Entry[] = []
  /** Index of the next entry to start. */
  cursor = 0
  state: 'collecting' | 'running' | 'done' = 'collecting'
  /** The handler threw: only `always` tasks run. */
  handlerFailed = false
  /** Called after every accepted add (late hand-off while collecting, waking workers while running). */
  onAdd: ((this: TaskList) => void) | undefined
  /** The response the middleware returned, for a hand-off that happens after it. */
  response: Response | undefined

  constructor(
    readonly c: Context,
    readonly options: ResolvedOptions,
  ) {}

  get size(): number {
    return this.entries.length
  }

  // biome-ignore lint/suspicious/noExplicitAny: see TaskFunction.
  add<Args extends any[]>(fn: TaskFunction<Args> | Task<Args>, ...args: Args): void {
    let entry: Entry
    const id = crypto.randomUUID()
    if (typeof fn === 'function') {
      entry = { fn, args, name: taskName(fn), options: {}, id, state: 'waiting' }
    } else if (isTask(fn)) {
      const { durable } = fn
      // A durable task's arguments are checked even without a transport, so that tests catch them.
      const checked = durable ? durable.checkArgs(args) : args
      const transport = durable && (durable.transport ?? this.options.transport)
      entry = { fn: fn.fn, args: checked, name: fn.options.name, options: fn.options, id, transport, state: 'waiting' }
    } else {
      throw new TypeError(`tasks.add: expected a function or a task() to run, got ${describeValue(fn)}`)
    }
    if (this.state === 'done') {
      throw new Error(
        `tasks.add: the background work of ${describeRequest(this.c)} has already finished, so task "${entry.name}" would never run; add tasks from the handler or from a task that is still running`,
      )
    }
    if (this.entries.length >= this.options.maxTasks) {
      throw new RangeError(
        `tasks.add: ${describeRequest(this.c)} already has ${this.entries.length} tasks, the \`maxTasks\` limit; task "${entry.name}" was not added (raise \`maxTasks\` in backgroundTasks() if this is expected)`,
      )
    }
    this.entries.push(entry)
    this.onAdd?.()
  }
}
