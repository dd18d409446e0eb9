import { drainTasks, pendingTasks } from '../../../src/index.ts'
import { createApp } from './app.ts'
import { emailConfig } from './email.ts'

const app = createApp(emailConfig(Deno.env.toObject()))
const hostname = Deno.env.get('HOST') ?? '0.0.0.0'
// Deno.serve passes `info` to app.fetch: its `info.completed` tells the library when the response has been sent.
const server = Deno.serve(
  { port: Number(Deno.env.get('PORT') ?? 3000), hostname, onListen: ({ port }) => console.log(`listening on http://${hostname}:${port}`) },
  app.fetch,
)

// A deploy sends SIGTERM: stop taking requests, let the background work finish, then exit.
const shutdown = async (signal: string) => {
  console.log(`${signal}: closing the server, waiting for ${pendingTasks().length} background task(s)`)
  void server.shutdown()
  const { unfinished } = await drainTasks({ timeout: 10_000 })
  if (unfinished.length > 0) console.error(`gave up on: ${unfinished.join(', ')}`)
  else console.log('all background tasks finished')
  Deno.exit(unfinished.length > 0 ? 1 : 0)
}
Deno.addSignalListener('SIGTERM', () => void shutdown('SIGTERM'))
Deno.addSignalListener('SIGINT', () => void shutdown('SIGINT'))
