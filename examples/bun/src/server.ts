import { gracefulShutdown } from '../../../src/shutdown/index.ts'
import { createApp } from './app.ts'
import { emailConfig } from './email.ts'

const app = createApp(emailConfig(process.env))
const server = Bun.serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: process.env.HOST })
console.log(`listening on ${server.url.origin}`)

// A deploy sends SIGTERM: refuse new requests, finish the responses in flight and the background
// tasks (8 s at most), log by name what did not finish, and exit with 0, or 1 if anything was left.
gracefulShutdown(server)
