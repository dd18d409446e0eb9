import type { Context } from 'hono'

/**
 * What a task sees as `this` while it runs. Declare it as the first parameter of a `function`
 * (arrow functions cannot): `async function sendEmail(this: TaskContext, to: string) {}`.
 */
export interface TaskContext<Env = unknown> {
  /** The task's name: `task()`'s `name`, `defineTask()`'s name, or the function's own name. */
  readonly name: string
  /**
   * Made once per `add()`: the same on every attempt and, for a durable task, on every delivery of
   * its queue message. Use it as an idempotency key, since queues deliver at least once.
   */
  readonly id: string
  /** 1 for the first try, 2 for the first retry, and so on (a durable task: the delivery count). */
  readonly attempt: number
  /** Aborted when the attempt times out or a drain gives up on it. Pass it to `fetch()`. */
  readonly signal: AbortSignal
  /**
   * The request's `c.env` (Workers bindings) when the task runs in-process; the Worker's `env`
   * when a queue consumer runs it. Durable tasks read bindings here, since arguments must be JSON.
   */
  readonly env: Env
}

/** Any function can be a task; its parameters decide what `add()` accepts after it. */
// biome-ignore lint/suspicious/noExplicitAny: `any` keeps parameter inference bivariant for user functions, and lets `this: TaskContext<MyEnv>` through.
export type TaskFunction<Args extends any[] = any[]> = (this: TaskContext<any>, ...args: Args) => unknown

/** Options for one task, given with `task(fn, options)`. Unset ones come from the middleware. */
export interface TaskOptions {
  /** Name used in hooks, logs and errors. @default the function's name, or `anonymous` */
  name?: string
  /** Milliseconds an attempt may run before it is aborted and reported, or `false` for no limit. @default the middleware's `timeout` */
  timeout?: number | false
  /** How many times to try again after a failure or a timeout (at most 100). @default the middleware's `retries` */
  retries?: number
  /** Milliseconds to wait before retry `attempt` (2, 3, ...), or a function computing them. @default the middleware's `retryDelay` */
  retryDelay?: number | ((attempt: number, error: unknown) => number)
  /** Run this task even when the handler threw (failure emails, audit logs). @default false */
  always?: boolean
}

/** A function bundled with its own options; pass it to `add()` like the function itself. */
// biome-ignore lint/suspicious/noExplicitAny: see TaskFunction.
export interface Task<Args extends any[] = any[]> {
  readonly fn: TaskFunction<Args>
  readonly options: Readonly<TaskOptions> & { readonly name: string }
}

/** A durable task on its way to a queue: what a transport sends and a consumer runs. */
export interface TaskMessage {
  /** The task's name, as given to `defineTask()`. */
  readonly task: string
  /** Its arguments, checked to be JSON at `add()`. */
  readonly args: readonly unknown[]
  /** The task's id (`this.id`), made at `add()`. */
  readonly id: string
  /** When it was handed to the transport, in milliseconds since the epoch. */
  readonly enqueuedAt: number
  /** The trace context of the send, when tracing is on (`taskTracing()`); a consumer links to it. */
  readonly trace?: TraceContext
}

/** A span's W3C Trace Context (https://www.w3.org/TR/trace-context/), as a durable task's message carries it. */
export interface TraceContext {
  /** `00-<trace id>-<span id>-<flags>`, as the `traceparent` header. */
  readonly traceparent: string
  /** Vendors' trace state, as the `tracestate` header, when there is one. */
  readonly tracestate?: string
}

/**
 * How one message of a `send()` call ended, in the shape of `Promise.allSettled()`: `fulfilled`
 * when the queue accepted it, `rejected` with the reason when it refused it.
 */
export type TaskSendResult = PromiseSettledResult<unknown>

/**
 * Takes durable tasks out of the request, to a queue that outlives it. `cloudflareQueue()`,
 * `bullmqQueue()`, `pgBossQueue()` and `denoKvQueue()` are four; another engine only needs `send`.
 * @example
 * const logTransport: TaskTransport = {
 *   async send(messages) {
 *     for (const message of messages) console.log(JSON.stringify(message))
 *   },
 * }
 */
export interface TaskTransport {
  /**
   * Called with the consecutive durable tasks of one request, and each one's own options
   * (`retries`, `retryDelay`, ... as given to `defineTask()`), in the same order. Resolving with
   * nothing means every message was accepted; rejecting, that none was. A transport that can tell
   * them apart resolves with one `TaskSendResult` per message, in order (`Promise.allSettled()`'s
   * shape), and only the refused ones are reported as failed.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: `void` lets `async send() {}` (resolving with nothing) implement it.
  send(messages: readonly TaskMessage[], c: Context, options?: readonly Readonly<TaskOptions>[]): Promise<void | readonly TaskSendResult[]>
  /**
   * Called by `add()` with the message a durable task will become (its real id; `enqueuedAt` of
   * the same length as the real one) and the task's own options. Throws to refuse the task at the
   * call site, such as a message over the queue's size limit or retries the queue cannot give.
   */
  check?(message: TaskMessage, options: Readonly<TaskOptions>): void
  /**
   * Send during the hand-off, before the middleware returns the response, instead of after it:
   * a client that has its response knows its durable tasks are queued, and a process killed right
   * after responding loses none. Costs the response one round trip to the queue.
   * @default false: sent after the response, inside the request's `waitUntil`
   */
  readonly beforeResponse?: boolean
  /** The queue system, for traces (`messaging.system`): `cloudflare_queues`, `bullmq`. */
  readonly system?: string
  /** The queue's name, for traces (`messaging.destination.name`), when the transport knows it. */
  readonly destination?: string
}

/**
 * How an attempt ended. `skipped` means it never ran: the handler threw and it was not `always`.
 * `sent` means a durable task was handed to its transport, which runs it elsewhere.
 */
export type TaskOutcome = 'success' | 'error' | 'timeout' | 'skipped' | 'sent'

/** A task as hooks and `onError` see it. */
export interface TaskInfo {
  /** The task's name. */
  readonly name: string
  /** The task's id, the same as `this.id` inside it. */
  readonly id: string
  /** The attempt this report is about (0 for a skipped task). */
  readonly attempt: number
  /** The arguments it was added with. */
  readonly args: readonly unknown[]
}

/** What `onTaskEnd` receives once an attempt is over. */
export interface TaskEndInfo extends TaskInfo {
  /** How the attempt ended. */
  readonly outcome: TaskOutcome
  /** Milliseconds the attempt ran (0 for a skipped task). */
  readonly duration: number
  /** What the attempt threw or rejected with, for `error` and `timeout`. */
  readonly error?: unknown
  /** Whether another attempt will follow this one. */
  readonly willRetry: boolean
}

/** Options of the `backgroundTasks()` middleware. */
export interface BackgroundTasksOptions {
  /**
   * How many tasks of one request run at the same time. 1 runs them one after another in the
   * order they were added.
   * @default 1
   */
  concurrency?: number
  /**
   * Milliseconds one attempt may run before its signal is aborted and it is reported as a
   * `timeout`, or `false` for no limit. The default leaves room inside the ~30 s Cloudflare
   * grants after the response.
   * @default 25_000
   */
  timeout?: number | false
  /** Retries after a failed or timed-out attempt. @default 0 */
  retries?: number
  /**
   * Milliseconds before retry number `attempt - 1`, or a function of the attempt and the error.
   * @default (attempt) => 100 * 2 ** (attempt - 2), capped at 10 s
   */
  retryDelay?: number | ((attempt: number, error: unknown) => number)
  /**
   * The most tasks one request may add, nested ones included. One more throws at `add()`.
   * @default 100
   */
  maxTasks?: number
  /**
   * Called once per task that failed for good (after its last retry), with the request's context.
   * @default logs the task's name, the request and the error with `console.error`
   */
  onError?: (error: unknown, task: TaskInfo, c: Context) => void | Promise<void>
  /** Called when an attempt starts. */
  onTaskStart?: (task: TaskInfo, c: Context) => void | Promise<void>
  /** Called when an attempt ends, whatever the outcome, and once for each skipped task. */
  onTaskEnd?: (task: TaskEndInfo, c: Context) => void | Promise<void>
  /**
   * Print a line per finished attempt: name, outcome, duration, request. `true` uses `console.log`.
   * @default false
   */
  log?: boolean | ((line: string) => void)
  /**
   * How log lines, error messages and `pendingTasks()` name a request. The default gives the
   * method and the route pattern, never the raw path, which may carry tokens.
   * @default (c) => `${c.req.method} ${routePath}`: `POST /invite/:token`
   */
  describeRequest?: (c: Context) => string
  /**
   * Wraps each attempt and each durable send, and sees each `add()`: `taskTracing()` from
   * `hono-background-tasks/otel` makes spans with it.
   * @example
   * backgroundTasks({ instrumentation: taskTracing() })
   */
  instrumentation?: TaskInstrumentation
  /**
   * Sends durable tasks (`defineTask()`) to a queue instead of running them here: after the
   * response, or during the hand-off when the transport asks (`bullmqQueue()` does by default).
   * Without one, durable tasks run in-process like any other.
   * @example
   * backgroundTasks({ transport: cloudflareQueue('TASKS') })
   */
  transport?: TaskTransport
  /**
   * Keeps the request's work alive where the platform is not detected. Called once per request
   * that has tasks, with a promise that never rejects.
   * @default detected per request: `c.executionCtx`, Netlify, Vercel, else the in-process runner
   */
  waitUntil?: (promise: Promise<void>, c: Context) => void
}

/** `c.var.tasks`: the tasks of the current request. */
export interface BackgroundTasks {
  /**
   * Run `fn(...args)` after the response is finished. The arguments are checked against `fn`.
   * A durable task (`defineTask()`) is sent to the `transport` instead, if there is one; its
   * arguments must be JSON, which is checked here.
   * @example
   * c.var.tasks.add(sendWelcomeEmail, user.email)
   */
  // biome-ignore lint/suspicious/noExplicitAny: see TaskFunction.
  add<Args extends any[]>(fn: TaskFunction<Args> | Task<Args>, ...args: Args): void
  /** How many tasks this request has added so far. */
  readonly size: number
}

/** Types `c.var.tasks`: `new Hono<BackgroundTasksEnv>()`, or intersect it with your own Env. */
export type BackgroundTasksEnv = {
  Variables: {
    tasks: BackgroundTasks
  }
}

/** How an attempt ended, as instrumentation sees it. */
export interface AttemptResult {
  readonly outcome: 'success' | 'error' | 'timeout'
  /** What it threw or rejected with; for a timeout, the `TaskTimeoutError`. */
  readonly error?: unknown
}

/** A durable task's attempt that a queue consumer runs: where its message came from. */
export interface TaskDelivery {
  /** The queue system, as OpenTelemetry's `messaging.system` names it: `cloudflare_queues`, `bullmq`. */
  readonly system: string
  /** The queue the message was delivered from. */
  readonly queue: string
  /** The queue's own id for the message. */
  readonly messageId: string
  /** The trace context the message carries, when it was sent with tracing on. */
  readonly trace: TraceContext | undefined
}

/** One attempt of a task, as instrumentation and subscribers of the tracing channel see it. */
export interface AttemptInfo {
  /** The task's name. */
  readonly name: string
  /** The task's id, the same on every attempt. */
  readonly id: string
  /** 1 for the first try, 2 for the first retry (for a durable task: the delivery count). */
  readonly attempt: number
  /** The arguments it was added with. */
  readonly args: readonly unknown[]
  /** What the instrumentation's `capture()` returned when the task was added; `undefined` for a delivery. */
  readonly origin: unknown
  /** Set when a queue consumer runs the attempt. */
  readonly delivery: TaskDelivery | undefined
  /** Why the attempt was aborted (its `TaskTimeoutError`, a drain's `DrainTimeoutError`), once it was. */
  readonly abortReason: unknown
}

/**
 * What subscribers of the `hono-background-tasks.task` tracing channel receive: the attempt, and
 * once it is over (from `error`, then `end` for a task that finished at once or `asyncStart` for
 * one that returned a promise), how it ended.
 */
export interface TaskChannelMessage extends AttemptInfo {
  outcome?: AttemptResult['outcome']
  error?: unknown
}

/** Durable tasks on their way to a transport, as the instrumentation's `send` sees them. */
export interface SendInfo {
  /** The tasks, in the order of `messages`, with what `capture()` returned when each was added. */
  readonly tasks: readonly { readonly name: string; readonly id: string; readonly origin: unknown }[]
  /** The messages the transport will be given, unless `run` gets others. */
  readonly messages: readonly TaskMessage[]
  /** Where they go. */
  readonly transport: TaskTransport
}

/**
 * Observes and wraps the work of tasks, for tracing: `taskTracing()` from
 * `hono-background-tasks/otel` is one. Every method is optional. A method that throws is logged
 * and the work goes on without it; a `run` it did not call is called for it.
 * @example
 * const timing: TaskInstrumentation = {
 *   attempt(task, run) {
 *     const started = performance.now()
 *     Promise.resolve(run()).then((result) => console.log(task.name, result.outcome, performance.now() - started))
 *   },
 * }
 */
export interface TaskInstrumentation {
  /** Called by `add()`, in the code that adds the task: the value comes back as the task's `origin`. */
  capture?(): unknown
  /**
   * Wraps one attempt, in-process or delivered by a queue consumer. Call `run()` synchronously
   * (inside a context of your own, for example) and watch the result it returns; it never rejects.
   */
  attempt?(attempt: AttemptInfo, run: () => AttemptResult | Promise<AttemptResult>): void
  /**
   * Wraps one hand-over of durable tasks to their transport. Call `run(messages)` synchronously,
   * with the messages to send (`info.messages`, or copies that carry `trace`).
   */
  send?(send: SendInfo, run: (messages: readonly TaskMessage[]) => AttemptResult | Promise<AttemptResult>): void
}
