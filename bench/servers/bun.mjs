// Bun: Bun.serve with Hono's fetch; imports the TypeScript source directly.
import { createApp } from './app.mjs'

const app = createApp(process.argv[2])
const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: app.fetch })
console.log(JSON.stringify({ port: server.port }))
process.on('SIGTERM', () => {
  server.stop(true)
  process.exit(0)
})
