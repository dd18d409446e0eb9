import { type Span, type SpanOptions, type Tracer, trace } from '@opentelemetry/api'
import { Hono } from 'hono'
import { cloudflareQueue, queueConsumer } from '../../src/cloudflare/index.ts'
import { defineTask } from '../../src/durable/index.ts'
import { type BackgroundTasksEnv, backgroundTasks, type TaskContext } from '../../src/index.ts'
import { taskTracing } from '../../src/otel/index.ts'

/** The bindings of test/queue/wrangler.toml. */
export interface Env {
  TASKS: Queue
}

/** One run of a durable task, as the consumer saw it. */
export interface Run {
  task: string
  id: string
  attempt: number
  args: unknown[]
  outcome: 'success' | 'error'
  /** Whether the task got the Worker's env as `this.env`. */
  hadEnv: boolean
}

/** What the dead-letter queue received. */
export interface DeadLetter {
  id: string
  body: unknown
}

// The consumer runs in the tests' isolate (the vitest plugin's main worker), so the tests read
// these arrays directly.
export const runs: Run[] = []
export const deadLetters: DeadLetter[] = []
/** Lines the app's onError saw, for the failed-send test. */
export const reported: string[] = []
/** `<first argument> <outcome>` for every task the app reported to onTaskEnd. */
export const outcomes: string[] = []

const note = (context: TaskContext<Env>, args: unknown[], outcome: Run['outcome']): void => {
  const { name: task, id, attempt, env } = context
  runs.push({ task, id, attempt, args, outcome, hadEnv: typeof env.TASKS?.send === 'function' })
}

/** Always succeeds. */
export const record = defineTask('record', async function (this: TaskContext<Env>, label: string, data?: unknown) {
  note(this, data === undefined ? [label] : [label, data], 'success')
})

/** Fails on its first two deliveries, succeeds on the third. */
export const flaky = defineTask('flaky', async function (this: TaskContext<Env>, label: string) {
  const ok = this.attempt >= 3
  note(this, [label], ok ? 'success' : 'error')
  if (!ok) throw new Error(`flaky failed on attempt ${this.attempt}`)
})

/** Always fails: ends in the dead-letter queue after max_retries. */
export const hopeless = defineTask('hopeless', async function (this: TaskContext<Env>, label: string) {
  note(this, [label], 'error')
  throw new Error(`hopeless failed on attempt ${this.attempt}`)
})

/** Has a transport of its own whose binding does not exist, so its send fails. */
export const lost = defineTask(
  'lost',
  async function (this: TaskContext<Env>, label: string) {
    note(this, [label], 'success')
  },
  { transport: cloudflareQueue('NO_SUCH_QUEUE') },
)

/** Where the consumer's spans go: nowhere, unless a test (tracing.spec.ts) sets a tracer for a while. */
export const consumerTracing: { tracer?: Tracer } = {}
const consumerTracer = {
  startSpan: (name: string, options?: SpanOptions, ctx?: Parameters<Tracer['startSpan']>[2]): Span =>
    (consumerTracing.tracer ?? trace.getTracer('unused')).startSpan(name, options, ctx),
} as Tracer

export const consume = queueConsumer<Env>({
  tasks: [record, flaky, hopeless],
  retryDelaySeconds: 0,
  onError: () => {},
  instrumentation: taskTracing({ tracer: consumerTracer }),
})

export const app = new Hono<{ Bindings: Env } & BackgroundTasksEnv>()
app.use(
  backgroundTasks({
    transport: cloudflareQueue('TASKS'),
    // The limits test adds 150 tasks to one request.
    maxTasks: 200,
    onError: (error) => {
      reported.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error))
    },
    onTaskEnd: (task) => {
      outcomes.push(`${String(task.args[0])} ${task.outcome}`)
    },
  }),
)

/** Adds the durable tasks named in the body: `{"tasks": [["record", "a"], ["flaky", "b"]]}`. */
app.post('/tasks', async (c) => {
  const { tasks } = await c.req.json<{ tasks: [string, string][] }>()
  for (const [name, label] of tasks) {
    if (name === 'record') c.var.tasks.add(record, label)
    else if (name === 'flaky') c.var.tasks.add(flaky, label)
    else if (name === 'hopeless') c.var.tasks.add(hopeless, label)
    else if (name === 'lost') c.var.tasks.add(lost, label)
    else
      c.var.tasks.add(function inProcess() {
        runs.push({ task: 'inProcess', id: label, attempt: 1, args: [], outcome: 'success', hadEnv: false })
      })
  }
  return c.json({ added: c.var.tasks.size }, 202)
})

/** Tries to add a task with an argument JSON cannot carry; answers with the error `add()` threw. */
app.post('/bigint', (c) => {
  try {
    c.var.tasks.add(record, 'bigint', { user: { createdAt: 10n } })
  } catch (error) {
    return c.json({ error: `${(error as Error).name}: ${(error as Error).message}` }, 400)
  }
  return c.json({ added: c.var.tasks.size }, 202)
})

/**
 * Adds `count` record tasks labelled `<prefix>-<i>` whose message is `bytes` long as JSON (envelope
 * included), or answers 400 with the error add() threw.
 */
app.post('/sized', async (c) => {
  const { prefix, count, bytes } = await c.req.json<{ prefix: string; count: number; bytes: number }>()
  try {
    for (let i = 0; i < count; i++) {
      const label = `${prefix}-${i}`
      const envelope = JSON.stringify({ task: 'record', args: [label, ''], id: crypto.randomUUID(), enqueuedAt: Date.now() })
      c.var.tasks.add(record, label, 'x'.repeat(bytes - envelope.length))
    }
  } catch (error) {
    return c.json({ error: `${(error as Error).name}: ${(error as Error).message}`, added: c.var.tasks.size }, 400)
  }
  return c.json({ added: c.var.tasks.size }, 202)
})

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    if (batch.queue === 'tasks-dead') {
      for (const message of batch.messages) {
        deadLetters.push({ id: message.id, body: message.body })
        message.ack()
      }
      return
    }
    await consume(batch, env)
  },
} satisfies ExportedHandler<Env>
