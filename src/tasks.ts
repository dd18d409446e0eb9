import type { Context } from 'hono'
import { describeRequest, type ResolvedOptions } from './options.ts'
import type { Attempt } from './run.ts'
import { isTask, taskName } from './task.ts'
import type { BackgroundTasks, Task, TaskFunction, TaskOptions, TaskTransport } from './types.ts'
import { describeValue } from './validate.ts'

const NO_OPTIONS: Readonly<TaskOptions> = Object.freeze({})

/** One added task and where it is in its life. */
export class Entry {
  state: 'waiting' | 'running' | 'done' | 'skipped' = 'waiting'
  /** The attempt running now, so that a drain can abort it. */
  attempt: Attempt | undefined
  #id: string | undefined

  constructor(
    readonly fn: TaskFunction,
    readonly args: unknown[],
    readonly name: string,
    readonly options: Readonly<TaskOptions>,
    /** A durable task with a transport is sent there instead of being run. */
    readonly transport?: TaskTransport,
  ) {}

  /** `this.id` in the task, and its queue message's id; made when first read. */
  get id(): string {
    this.#id ??= crypto.randomUUID()
    return this.#id
  }
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
  /** Tasks running now, while the list runs. */
  active = 0
  /** The runner is starting tasks; a nested add only has to append. */
  pumping = false
  /** Resolves the promise of `runTasks()` once every task has settled. */
  finish: (() => void) | undefined

  constructor(
    readonly c: Context,
    readonly options: ResolvedOptions,
  ) {}

  get size(): number {
    return this.entries.length
  }

  // biome-ignore lint/suspicious/noExplicitAny: see TaskFunction.
  add<Args extends any[]>(fn: TaskFunction<Args> | Task<Args>, ...args: Args): void {
    const bare = typeof fn === 'function'
    if (!bare && !isTask(fn)) throw new TypeError(`tasks.add: expected a function or a task() to run, got ${describeValue(fn)}`)
    const name = bare ? taskName(fn) : fn.options.name
    if (this.state === 'done') {
      throw new Error(
        `tasks.add: the background work of ${describeRequest(this.c)} has already finished, so task "${name}" would never run; add tasks from the handler or from a task that is still running`,
      )
    }
    if (this.entries.length >= this.options.maxTasks) {
      throw new RangeError(
        `tasks.add: ${describeRequest(this.c)} already has ${this.entries.length} tasks, the \`maxTasks\` limit; task "${name}" was not added (raise \`maxTasks\` in backgroundTasks() if this is expected)`,
      )
    }
    let entry: Entry
    if (bare) {
      entry = new Entry(fn, args, name, NO_OPTIONS)
    } else {
      const { durable } = fn
      // A durable task's arguments are checked even without a transport, so that tests catch them.
      const checked = durable ? durable.checkArgs(args) : args
      entry = new Entry(fn.fn, checked, name, fn.options, durable && (durable.transport ?? this.options.transport))
      // The transport may refuse the message it would send (over its queue's size limit, say).
      entry.transport?.check?.({ task: name, args: checked, id: entry.id, enqueuedAt: Date.now() })
    }
    this.entries.push(entry)
    this.onAdd?.()
  }
}
