// Node: @hono/node-server. Bundled by bench/lib/build.mjs (Node 20 cannot import the .ts source).
import { serve } from '@hono/node-server'
import { createApp } from './app.mjs'

const app = createApp(process.argv[2])
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  console.log(JSON.stringify({ port: info.port }))
})
// A clean exit, so that --cpu-prof writes its profile.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close()
    process.exit(0)
  })
}
