// edge-runtime (Vercel Edge locally): a service-worker script; the FetchEvent is c.executionCtx.
import { handle } from 'hono/service-worker'
import { createApp } from './app.mjs'

addEventListener('fetch', handle(createApp(globalThis.BENCH_VARIANT ?? 'wait')))
