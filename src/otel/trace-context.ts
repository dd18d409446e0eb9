import { createTraceState, isSpanContextValid, type SpanContext } from '@opentelemetry/api'
import type { TraceContext } from '../types.ts'

// version-traceid-spanid-flags; a later version may append fields (W3C Trace Context, level 1).
const TRACEPARENT = /^([\da-f]{2})-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})(-.*)?$/

/**
 * A span's context as W3C `traceparent` and `tracestate`, written here rather than through the
 * global propagator: the message's format must not depend on which propagator the app registered.
 */
export const toTraceContext = (span: SpanContext): TraceContext | undefined => {
  if (!isSpanContextValid(span)) return undefined
  const traceparent = `00-${span.traceId}-${span.spanId}-${(span.traceFlags & 0xff).toString(16).padStart(2, '0')}`
  const tracestate = span.traceState?.serialize()
  return tracestate ? { traceparent, tracestate } : { traceparent }
}

/** The remote span context a message carries, or `undefined` when it carries none or a malformed one. */
export const fromTraceContext = (carrier: TraceContext | undefined): SpanContext | undefined => {
  if (!carrier) return undefined
  const match = TRACEPARENT.exec(carrier.traceparent.trim().toLowerCase())
  if (!match) return undefined
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, string, string, string, string, string | undefined]
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined
  const span: SpanContext = { traceId, spanId, traceFlags: Number.parseInt(flags, 16), isRemote: true }
  if (!isSpanContextValid(span)) return undefined
  if (carrier.tracestate) {
    try {
      span.traceState = createTraceState(carrier.tracestate)
    } catch {
      // A broken tracestate loses the vendors' data, not the link.
    }
  }
  return span
}
