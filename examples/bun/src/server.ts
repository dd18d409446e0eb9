import { drainTasks, pendingTasks } from '../../../src/index.ts'
import { createApp } from './app.ts'
import { emailConfig } from './email.ts'

const app = createApp(emailConfig(process.env))
const server = Bun.serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: process.env.HOST })
console.log(`listening on ${server.url.origin}`)

// A deploy sends SIGTERM: stop taking requests, let the background work finish, then exit.
const shutdown = async (signal: string) => {
  console.log(`${signal}: closing the server, waiting for ${pendingTasks().length} background task(s)`)
  void server.stop()
  const { unfinished } = await drainTasks({ timeout: 10_000 })
  if (unfinished.length > 0) console.error(`gave up on: ${unfinished.join(', ')}`)
  else console.log('all background tasks finished')
  process.exit(unfinished.length > 0 ? 1 : 0)
}
process.once('SIGTERM', () => void shutdown('SIGTERM'))
process.once('SIGINT', () => void shutdown('SIGINT'))
