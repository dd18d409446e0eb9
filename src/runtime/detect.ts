import type { Context } from 'hono'
import type { Lifetime, RuntimeAdapter } from './adapter.ts'
import { bun, isBun } from './bun.ts'
import { deno, denoCompleted } from './deno.ts'
import { edge, platformWaitUntil } from './edge.ts'
import { onLambda } from './lambda.ts'
import { node, nodeOutgoing } from './node.ts'
import { isWorkerd, workerd } from './workerd.ts'

/** The web runtime this process is: decided once, as it cannot change. */
const WEB: RuntimeAdapter = isBun() ? bun : isWorkerd() ? workerd : edge

/**
 * The runtime serving this request, decided once per request from what the server passed as
 * `c.env`: @hono/node-server's `{ outgoing }` (Node, and Bun or Deno running it), `Deno.serve`'s
 * `info.completed`, else the web runtime of this process: Bun, workerd, or `edge` (the edge
 * platforms, and also `app.request()` in tests on Node and Deno, where no server passed anything).
 */
export const detectRuntime = (env: unknown): RuntimeAdapter => (nodeOutgoing(env) ? node : denoCompleted(env) ? deno : WEB)

const IN_PROCESS: Lifetime = { kind: 'in-process' }
const BEFORE_RESPONSE: Lifetime = { kind: 'before-response' }

/**
 * Where this request's lifetime comes from, first match wins (docs/design.md, "Where the lifetime
 * comes from"): the `waitUntil` option, the platform's own `waitUntil`, AWS Lambda (tasks before
 * the reply), else the in-process runner. `runtime` is what `detectRuntime()` found for the request.
 */
export const findLifetime = (
  c: Context,
  override: ((promise: Promise<void>, c: Context) => void) | undefined,
  runtime: RuntimeAdapter,
): Lifetime => {
  if (override) return { kind: 'waitUntil', source: 'option', waitUntil: (promise) => override(promise, c) }
  const platform = platformWaitUntil(c, runtime.hasExecutionCtx)
  if (platform) return platform
  return onLambda(c.env) ? BEFORE_RESPONSE : IN_PROCESS
}
