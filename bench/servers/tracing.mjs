// The "one no-op task" app of app.mjs (the task added with `c.get('tasks')`, as there) with tracing on,
// for the in-process micro-benchmark (Node only):
// - 'one-again': the same as 'one', a second app: how far it strays from 'one' is the noise of the run;
// - 'otel-noop': taskTracing() installed, no tracer provider registered (the API's no-op spans);
// - 'otel': taskTracing() with an SDK tracer (every span recorded, batched to an exporter that drops
//   them), no context manager registered, which would slow every variant of the process alike;
// - 'channel': a subscriber on every event of the hono-background-tasks.task tracing channel, while
//   this variant is measured (activate()).
import { tracingChannel } from 'node:diagnostics_channel'
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { Hono } from 'hono'
import { backgroundTasks, TASK_CHANNEL } from '../../src/index.ts'
import { taskTracing } from '../../src/otel/index.ts'
import { counters } from './app.mjs'

const BODY = { hello: 'world' }

function noop() {
  counters.completed++
}

export const tracingVariants = {
  'one-again': 'one no-op task, no tracing, a second app (A/A control)',
  'otel-noop': 'one no-op task, taskTracing() with no tracer provider',
  otel: 'one no-op task, taskTracing() with an SDK tracer',
  channel: 'one no-op task, a tracing channel subscriber',
}

const dropping = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} }
const ignore = () => {}
const subscriber = { start: ignore, end: ignore, asyncStart: ignore, asyncEnd: ignore, error: ignore }

/**
 * Sets up what `variant` needs while it is measured and returns how to undo it: the channel is the
 * process's, so its subscriber must not stay for the other variants.
 */
export const activate = (variant) => {
  if (variant !== 'channel') return () => {}
  tracingChannel(TASK_CHANNEL).subscribe(subscriber)
  return () => tracingChannel(TASK_CHANNEL).unsubscribe(subscriber)
}

export const createTracingApp = (variant) => {
  if (!(variant in tracingVariants)) throw new Error(`unknown tracing variant ${variant}`)
  const app = new Hono()
  if (variant === 'channel' || variant === 'one-again') app.use(backgroundTasks())
  else {
    const tracer =
      variant === 'otel' ? new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropping)] }).getTracer('bench') : undefined
    app.use(backgroundTasks({ instrumentation: taskTracing({ tracer }) }))
  }
  app.get('/', (c) => {
    counters.added++
    c.get('tasks').add(noop)
    return c.json(BODY)
  })
  return app
}
