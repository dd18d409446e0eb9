import {
  type Attributes,
  type Context,
  context,
  isSpanContextValid,
  type Link,
  ProxyTracerProvider,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api'
import type { AttemptInfo, AttemptResult, SendInfo, TaskInstrumentation, TaskMessage } from '../types.ts'
import { fromTraceContext, toTraceContext } from './trace-context.ts'

/** The instrumentation scope of the spans, and the prefix of their own attributes. */
const SCOPE = 'hono-background-tasks'

/** The attributes the spans carry besides OpenTelemetry's `messaging.*` and `error.type`. */
export const TASK_ATTRIBUTES = {
  name: 'background_task.name',
  id: 'background_task.id',
  attempt: 'background_task.attempt',
  /** `true` on the span of a retry (attempt 2 and on). */
  retry: 'background_task.retry',
  /** `success`, `error`, `timeout` or `aborted` (the signal was aborted, by a drain say, and the task failed). */
  outcome: 'background_task.outcome',
  /** How long the attempt ran, in milliseconds. */
  duration: 'background_task.duration_ms',
} as const

/** Options of `taskTracing()`. */
export interface TaskTracingOptions {
  /** The tracer to make spans with. @default `tracerProvider`'s tracer named `hono-background-tasks` */
  tracer?: Tracer
  /** Where the default tracer comes from. @default the global tracer provider */
  tracerProvider?: TracerProvider
}

type Outcome = 'success' | 'error' | 'timeout' | 'aborted'

const spanContextOf = (ctx: Context): SpanContext | undefined => {
  const span = trace.getSpanContext(ctx)
  return span && isSpanContextValid(span) ? span : undefined
}

// What the API's global provider delegates to while no SDK registered one.
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate()

/** No tracer provider is registered: the global one is still the API's proxy, delegating to the no-op. */
const noGlobalProvider = (): boolean => {
  const provider = trace.getTracerProvider()
  return provider instanceof ProxyTracerProvider && provider.getDelegate() === NOOP_PROVIDER
}

/** A span of the API's no-op tracer (no provider registered): not recorded, and no trace context to carry. */
const isNoop = (span: Span): boolean => !span.isRecording() && !isSpanContextValid(span.spanContext())

/** Ends `span` once `result` is there, synchronously when it already is. Never throws or rejects. */
const whenDone = (result: AttemptResult | Promise<AttemptResult>, end: (result: AttemptResult) => void): void => {
  const safely = (settled: AttemptResult) => {
    try {
      end(settled)
    } catch (error) {
      console.error('[background-tasks] could not end a span:', error)
    }
  }
  if (result instanceof Promise) result.then(safely)
  else safely(result)
}

const errorType = (error: unknown): string => {
  if (error instanceof Error) return error.name || error.constructor.name || 'Error'
  return typeof error
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** Marks an ended attempt or send: its outcome, duration, status and exception. */
const finish = (span: Span, outcome: Outcome, error: unknown, started: number): void => {
  span.setAttribute(TASK_ATTRIBUTES.outcome, outcome)
  span.setAttribute(TASK_ATTRIBUTES.duration, performance.now() - started)
  if (outcome !== 'success') {
    span.setAttribute('error.type', errorType(error))
    if (error instanceof Error || typeof error === 'string') span.recordException(error)
    const prefix = outcome === 'timeout' ? 'timed out: ' : outcome === 'aborted' ? 'aborted: ' : ''
    span.setStatus({ code: SpanStatusCode.ERROR, message: `${prefix}${describe(error)}` })
  }
  span.end()
}

const outcomeOf = (result: AttemptResult, info: AttemptInfo): Outcome =>
  result.outcome === 'error' && info.abortReason !== undefined ? 'aborted' : result.outcome

/**
 * OpenTelemetry spans for background tasks, for the `instrumentation` option of `backgroundTasks()`
 * and `queueConsumer()`. Each attempt is a span `task <name>`, active while the task runs, that
 * links to the span that was active when `add()` was called (and is its child, so it shows in the
 * request's trace). A durable task's send is a PRODUCER span whose W3C trace context rides in the
 * message; the consumer's CONSUMER span links to it. With no tracer provider registered, spans are
 * no-ops and messages carry nothing.
 * @example
 * app.use(httpInstrumentationMiddleware())
 * app.use(backgroundTasks({ instrumentation: taskTracing() }))
 */
export const taskTracing = (options: TaskTracingOptions = {}): TaskInstrumentation => {
  const tracer = options.tracer ?? (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE)
  // With the global provider, a check per attempt spares the no-op spans while none is registered.
  const idle = options.tracer || options.tracerProvider ? () => false : noGlobalProvider

  const attemptSpan = (info: AttemptInfo): { span: Span; parent: Context } => {
    const attributes: Attributes = {
      [TASK_ATTRIBUTES.name]: info.name,
      [TASK_ATTRIBUTES.id]: info.id,
      [TASK_ATTRIBUTES.attempt]: info.attempt,
      [TASK_ATTRIBUTES.retry]: info.attempt > 1,
    }
    const { delivery } = info
    if (!delivery) {
      // In-process: a child of, and linked to, what was active at add().
      const parent = (info.origin as Context | undefined) ?? context.active()
      const origin = spanContextOf(parent)
      const links: Link[] = origin ? [{ context: origin }] : []
      return { span: tracer.startSpan(`task ${info.name}`, { kind: SpanKind.INTERNAL, attributes, links }, parent), parent }
    }
    // Delivered by a queue: linked to the send; its child too, unless the consumer's own span is active.
    attributes['messaging.system'] = delivery.system
    attributes['messaging.operation.type'] = 'process'
    attributes['messaging.operation.name'] = 'process'
    attributes['messaging.destination.name'] = delivery.queue
    attributes['messaging.message.id'] = delivery.messageId
    const ambient = context.active()
    const producer = fromTraceContext(delivery.trace)
    const parent = producer && !spanContextOf(ambient) ? trace.setSpanContext(ambient, producer) : ambient
    const links: Link[] = producer ? [{ context: producer }] : []
    return { span: tracer.startSpan(`task ${info.name}`, { kind: SpanKind.CONSUMER, attributes, links }, parent), parent }
  }

  return {
    capture: () => context.active(),

    attempt(info, run) {
      if (idle()) {
        run()
        return
      }
      const { span, parent } = attemptSpan(info)
      if (isNoop(span)) {
        // No tracer provider: nothing to record and no context to pass on.
        run()
        return
      }
      const started = performance.now()
      const result = context.with(trace.setSpan(parent, span), run)
      whenDone(result, (settled) => finish(span, outcomeOf(settled, info), settled.error, started))
    },

    send(info: SendInfo, run) {
      const { tasks, messages, transport } = info
      if (idle()) {
        run(messages)
        return
      }
      const first = tasks[0]
      const parent = (first?.origin as Context | undefined) ?? context.active()
      const links: Link[] = []
      for (const task of tasks) {
        const origin = task.origin ? spanContextOf(task.origin as Context) : undefined
        if (origin && !links.some((link) => link.context.spanId === origin.spanId)) links.push({ context: origin })
      }
      const attributes: Attributes = {
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'send',
        [TASK_ATTRIBUTES.name]: tasks.length === 1 ? first?.name : tasks.map((task) => task.name),
        [TASK_ATTRIBUTES.id]: tasks.length === 1 ? first?.id : tasks.map((task) => task.id),
      }
      if (transport.system) attributes['messaging.system'] = transport.system
      if (transport.destination) attributes['messaging.destination.name'] = transport.destination
      if (tasks.length > 1) attributes['messaging.batch.message_count'] = tasks.length
      const name = tasks.length === 1 ? `send ${first?.name}` : `send ${tasks.length} tasks`
      const span = tracer.startSpan(name, { kind: SpanKind.PRODUCER, attributes, links }, parent)
      if (isNoop(span)) {
        run(messages)
        return
      }
      const carried = toTraceContext(span.spanContext())
      const traced: readonly TaskMessage[] = carried ? messages.map((message) => ({ ...message, trace: carried })) : messages
      const started = performance.now()
      const result = context.with(trace.setSpan(parent, span), run, undefined, traced)
      whenDone(result, (settled) => finish(span, settled.outcome, settled.error, started))
    },
  }
}
