// Deno: Deno.serve(app.fetch), so that the handler info (`completed`) reaches the middleware as env.
import { createApp } from './app.mjs'

const app = createApp(Deno.args[0])
Deno.serve({ port: 0, hostname: '127.0.0.1', onListen: ({ port }) => console.log(JSON.stringify({ port })) }, app.fetch)
