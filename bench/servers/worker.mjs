// workerd (via miniflare): a module Worker; the tasks go to ctx.waitUntil. Bundled by esbuild.
import { createApp } from './app.mjs'

export default createApp(globalThis.BENCH_VARIANT ?? 'wait')
