import { gracefulShutdown } from '../../../src/shutdown/index.ts'
import { createApp } from './app.ts'
import { emailConfig } from './email.ts'

const app = createApp(emailConfig(Deno.env.toObject()))
const hostname = Deno.env.get('HOST') ?? '0.0.0.0'
// Deno.serve passes `info` to app.fetch: its `info.completed` tells the library when the response has been sent.
const server = Deno.serve(
  { port: Number(Deno.env.get('PORT') ?? 3000), hostname, onListen: ({ port }) => console.log(`listening on http://${hostname}:${port}`) },
  app.fetch,
)

// A deploy sends SIGTERM: refuse new requests, finish the responses in flight and the background
// tasks (8 s at most), log by name what did not finish, and exit with 0, or 1 if anything was left.
gracefulShutdown(server)
