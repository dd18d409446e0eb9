// `node examples/vercel-edge/dev.mjs`: runs api/register.ts locally the way Vercel runs an Edge
// Function. It is bundled with esbuild and evaluated inside `edge-runtime` (Vercel's open-source
// Edge runtime); each request calls the default export with `(request, context)`, where
// `context.waitUntil` keeps work alive after the response, as in production. PORT (3000) and HOST
// (127.0.0.1) pick the address; the function reads EMAIL_API_URL, EMAIL_API_KEY and MAIL_FROM.
import { AsyncLocalStorage } from 'node:async_hooks'
import { fileURLToPath } from 'node:url'
import { EdgeRuntime, runServer } from 'edge-runtime'
import { build } from 'esbuild'

const { outputFiles } = await build({
  entryPoints: [fileURLToPath(new URL('./api/register.ts', import.meta.url))],
  bundle: true,
  format: 'iife',
  globalName: 'edgeFunction',
  platform: 'browser',
  target: 'es2022',
  write: false,
  logLevel: 'warning',
})

// Vercel also exposes each request's context here; `@vercel/functions`' waitUntil reads it.
const requestContext = new AsyncLocalStorage()
const runtime = new EdgeRuntime({
  extend: (context) =>
    Object.assign(context, {
      process: { env: { ...process.env } },
      [Symbol.for('@vercel/request-context')]: { get: () => requestContext.getStore() },
      __runWithContext: (ctx, fn) => requestContext.run(ctx, fn),
    }),
})
runtime.evaluate(outputFiles[0].text)
runtime.evaluate(`
  addEventListener('fetch', (event) => {
    const context = { waitUntil: (promise) => event.waitUntil(promise) }
    event.respondWith(__runWithContext(context, () => edgeFunction.default(event.request, context)))
  })
`)

const server = await runServer({ runtime, port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })
console.log(`listening on ${server.url.replace(/\/$/, '')}`)

// close() stops taking requests and waits for everything handed to waitUntil.
const shutdown = async (signal) => {
  console.log(`${signal}: closing the server, waiting for the work handed to waitUntil`)
  await server.close()
  console.log('all background tasks finished')
  process.exit(0)
}
process.once('SIGTERM', () => void shutdown('SIGTERM'))
process.once('SIGINT', () => void shutdown('SIGINT'))
