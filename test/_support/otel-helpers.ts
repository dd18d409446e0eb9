/**
 * A tracer provider that keeps every ended span (through InMemorySpanExporter) and lets a test
 * wait until some have ended, with no clock: spans end after the response, from background work.
 */
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base'

export const recordingProvider = () => {
  const exporter = new InMemorySpanExporter()
  /** Spans starting and ending, in the order they did. */
  const events: [event: 'start' | 'end', span: { readonly name: string }][] = []
  const waiters: { test: (spans: ReadableSpan[]) => boolean; resolve: () => void }[] = []
  const watcher: SpanProcessor = {
    onStart: (span) => {
      events.push(['start', span as unknown as ReadableSpan])
    },
    onEnd: (span) => {
      events.push(['end', span])
      // SimpleSpanProcessor, listed first, has handed it to the exporter already.
      for (const waiter of [...waiters]) {
        if (waiter.test(exporter.getFinishedSpans())) {
          waiters.splice(waiters.indexOf(waiter), 1)
          waiter.resolve()
        }
      }
    },
    forceFlush: async () => {},
    shutdown: async () => {},
  }
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter), watcher] })
  const spans = (): ReadableSpan[] => exporter.getFinishedSpans()
  /** Resolves with the ended spans once `count` spans named `name` have ended. */
  const ended = (name: string, count = 1): Promise<ReadableSpan[]> => {
    const test = (all: ReadableSpan[]) => all.filter((span) => span.name === name).length >= count
    if (test(spans())) return Promise.resolve(spans())
    return new Promise((resolve) => waiters.push({ test, resolve: () => resolve(spans()) }))
  }
  const reset = (): void => {
    exporter.reset()
    events.length = 0
  }
  /** `start <name>` and `end <name>` in the order they happened, each with the name the span ended with (@hono/otel renames its span at the end). */
  const order = (): string[] => events.map(([event, span]) => `${event} ${span.name}`)
  return { provider, spans, ended, order, reset }
}

/** The one ended span named `name`. */
export const spanNamed = (spans: ReadableSpan[], name: string): ReadableSpan => {
  const found = spans.filter((span) => span.name === name)
  if (found.length !== 1)
    throw new Error(`expected one span named "${name}", found ${found.length}: ${spans.map((s) => s.name).join(', ')}`)
  return found[0] as ReadableSpan
}
