import type { Context } from 'hono'
import type { Lifetime, RuntimeAdapter } from './adapter.ts'
import { noteResponses } from './body-notes.ts'
import { defaultReader, watchWebResponse } from './web-body.ts'

interface WaitUntilOwner {
  waitUntil(promise: Promise<unknown>): void
}

const hasWaitUntil = (value: unknown): value is WaitUntilOwner =>
  typeof value === 'object' && value !== null && typeof (value as WaitUntilOwner).waitUntil === 'function'

const bound = (source: string, owner: WaitUntilOwner): Lifetime => ({
  kind: 'waitUntil',
  source,
  waitUntil: (promise) => owner.waitUntil(promise),
})

const vercelContext = Symbol.for('@vercel/request-context')

/**
 * The platforms' own `waitUntil`, first match wins: `c.executionCtx` (Workers, Pages,
 * service-worker platforms such as Fastly, edge-runtime, a Vercel web handler that passes its
 * context; skipped where `hasExecutionCtx` is false, since the getter can only throw there),
 * Netlify's `c.env.context`, then Vercel's request context (read directly, no dependency).
 */
export const platformWaitUntil = (c: Context, hasExecutionCtx: boolean): Lifetime | undefined => {
  if (hasExecutionCtx) {
    try {
      const ctx: unknown = c.executionCtx
      if (hasWaitUntil(ctx)) return bound('executionCtx', ctx)
    } catch {
      // No ExecutionContext on this request.
    }
  }
  const netlify = (c.env as { context?: unknown } | undefined)?.context
  if (hasWaitUntil(netlify)) return bound('netlify', netlify)
  // Also behind a Node-shaped env: a Vercel Node function served through a request listener.
  const vercel = (globalThis as Record<symbol, { get?: () => unknown } | undefined>)[vercelContext]?.get?.()
  if (hasWaitUntil(vercel)) return bound('vercel', vercel)
  return undefined
}

/**
 * Vercel Edge, Netlify, edge-runtime and other service-worker platforms: their `waitUntil` keeps
 * the work alive, and the body is watched as on workerd, with default reads.
 */
export const edge: RuntimeAdapter = {
  name: 'edge',
  hasExecutionCtx: true,
  onFirstTask: noteResponses,
  whenFinished: (c, res, canWrap, start) => watchWebResponse(c, res, canWrap, start, defaultReader),
}
