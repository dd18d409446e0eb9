/**
 * Plays Vercel's Edge platform locally: bundles test/runtimes/servers/vercel-edge.ts with esbuild,
 * evaluates it inside `edge-runtime`, and serves it over HTTP with `runServer`. Each request gets
 * a context with `waitUntil` (the FetchEvent's), passed as the handler's second argument and
 * installed as Vercel's request context (`globalThis[Symbol.for('@vercel/request-context')]`).
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { fileURLToPath } from 'node:url'
import { EdgeRuntime, runServer } from 'edge-runtime'

/** What `runServer` resolves to. */
export type EdgeRuntimeServer = Awaited<ReturnType<typeof runServer>>

import { build } from 'esbuild'
import type { RequestContext } from './servers/vercel-edge.ts'

/** The exports of servers/vercel-edge.ts: the two shapes of Edge Function. */
export type EdgeFunctionShape = 'withContext' | 'requestOnly'

const entry = fileURLToPath(new URL('./servers/vercel-edge.ts', import.meta.url))

/** Bundles the Edge Function entry as one script that defines `edgeFunction`. */
export const bundleEdgeFunction = async (): Promise<string> => {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'iife',
    globalName: 'edgeFunction',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  })
  return result.outputFiles[0]!.text
}

/** Serves `shape` of the bundled Edge Function on 127.0.0.1 the way Vercel calls it. */
export const serveEdgeFunction = async (code: string, shape: EdgeFunctionShape): Promise<EdgeRuntimeServer> => {
  const requestContext = new AsyncLocalStorage<RequestContext>()
  const runtime = new EdgeRuntime({
    extend: (context) => {
      Object.assign(context, {
        [Symbol.for('@vercel/request-context')]: { get: () => requestContext.getStore() },
        __vercelPlatform: { run: <T>(ctx: RequestContext, fn: () => T): T => requestContext.run(ctx, fn) },
      })
      return context
    },
  })
  runtime.evaluate(code)
  runtime.evaluate(`
    addEventListener('fetch', (event) => {
      const context = { waitUntil: (promise) => event.waitUntil(promise) }
      event.respondWith(__vercelPlatform.run(context, () => edgeFunction.${shape}(event.request, context)))
    })
  `)
  return runServer({ runtime, port: 0, host: '127.0.0.1' })
}
