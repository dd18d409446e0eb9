import type { Context } from 'hono'

/** Hands the request's work to a platform that keeps it alive after the response. */
export type WaitUntil = (promise: Promise<void>) => void

/**
 * Who keeps a request's work alive: a platform `waitUntil`, the in-process runner (Node, Bun,
 * Deno), or nobody after the reply (AWS Lambda freezes), in which case tasks run before it.
 */
export type Lifetime = { kind: 'waitUntil'; source: string; waitUntil: WaitUntil } | { kind: 'in-process' } | { kind: 'before-response' }

interface WaitUntilOwner {
  waitUntil(promise: Promise<unknown>): void
}

const hasWaitUntil = (value: unknown): value is WaitUntilOwner =>
  typeof value === 'object' && value !== null && typeof (value as WaitUntilOwner).waitUntil === 'function'

/** @hono/node-server passes `{ incoming, outgoing }`; `outgoing` is the `ServerResponse`. */
export const nodeOutgoing = (env: unknown): NodeOutgoing | undefined => {
  const outgoing = (env as { outgoing?: NodeOutgoing } | undefined)?.outgoing
  return typeof outgoing?.on === 'function' ? outgoing : undefined
}

/** The part of Node's `ServerResponse` the library reads, typed here to keep `node:` out. */
export interface NodeOutgoing {
  readonly writableFinished: boolean
  readonly closed: boolean
  readonly destroyed: boolean
  on(event: 'close', listener: () => void): unknown
}

/** `Deno.serve(app.fetch)` passes `ServeHandlerInfo`, whose `completed` settles once the response is sent. */
export const denoCompleted = (env: unknown): PromiseLike<void> | undefined => {
  const completed = (env as { completed?: PromiseLike<void> } | undefined)?.completed
  return typeof completed?.then === 'function' ? completed : undefined
}

const vercelContext = Symbol.for('@vercel/request-context')
const IN_PROCESS: Lifetime = { kind: 'in-process' }
const BEFORE_RESPONSE: Lifetime = { kind: 'before-response' }

/**
 * AWS Lambda: `hono/aws-lambda`'s `handle` passes `lambdaContext`; its `streamHandle` and
 * `hono/lambda-edge` pass the same Lambda context object as `context`.
 */
const onLambda = (env: { lambdaContext?: unknown; context?: unknown } | undefined): boolean =>
  Boolean(env?.lambdaContext) ||
  typeof (env?.context as { getRemainingTimeInMillis?: unknown } | undefined)?.getRemainingTimeInMillis === 'function'

const bound = (source: string, owner: WaitUntilOwner): Lifetime => ({
  kind: 'waitUntil',
  source,
  waitUntil: (promise) => owner.waitUntil(promise),
})

/** Finds where this request's lifetime comes from; the first match wins (DESIGN.md point 3). */
export const findLifetime = (c: Context, override: ((promise: Promise<void>, c: Context) => void) | undefined): Lifetime => {
  if (override) return { kind: 'waitUntil', source: 'option', waitUntil: (promise) => override(promise, c) }
  const env: unknown = c.env
  // Node and Deno never have an ExecutionContext; skipping the getter saves a thrown Error per request.
  if (!nodeOutgoing(env) && !denoCompleted(env)) {
    try {
      const ctx: unknown = c.executionCtx
      if (hasWaitUntil(ctx)) return bound('executionCtx', ctx)
    } catch {
      // No ExecutionContext on this runtime.
    }
  }
  const netlify = (env as { context?: unknown } | undefined)?.context
  if (hasWaitUntil(netlify)) return bound('netlify', netlify)
  // Also behind a Node-shaped env: a Vercel Node function served through a request listener.
  const vercel = (globalThis as Record<symbol, { get?: () => unknown } | undefined>)[vercelContext]?.get?.()
  if (hasWaitUntil(vercel)) return bound('vercel', vercel)
  if (onLambda(env as { lambdaContext?: unknown; context?: unknown } | undefined)) return BEFORE_RESPONSE
  return IN_PROCESS
}
