/**
 * The runtime app as a Vercel Edge Function, in the two shapes users write. Bundled with esbuild
 * (`--format=iife --global-name=edgeFunction`) and run inside `edge-runtime`, where
 * test/runtimes/edge-platform.ts plays Vercel: it calls one of these with the request and a context
 * that has `waitUntil`, and installs the `@vercel/request-context` symbol.
 */
import type { ExecutionContext } from 'hono'
import { handle } from 'hono/vercel'
import { createRuntimeApp } from './app.ts'

/** The context Vercel passes an Edge Function as its second argument. */
export interface RequestContext {
  waitUntil(promise: Promise<unknown>): void
}

const app = createRuntimeApp()

/** Passes the platform context to Hono: the library finds `c.executionCtx.waitUntil`. */
export const withContext = (request: Request, context: RequestContext): Response | Promise<Response> => {
  const executionCtx: ExecutionContext = { waitUntil: (promise) => context.waitUntil(promise), passThroughOnException: () => {}, props: {} }
  return app.fetch(request, {}, executionCtx)
}

/** `hono/vercel`'s `handle` drops the context: only the request-context symbol carries `waitUntil`. */
export const requestOnly: (request: Request, context: RequestContext) => Response | Promise<Response> = handle(app)
