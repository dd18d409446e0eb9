import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { type BackgroundTasksEnv, backgroundTasks } from '../../../src/index.ts'
import { pgBossQueue } from '../../../src/pg-boss/index.ts'
import { gracefulShutdown } from '../../../src/shutdown/index.ts'
import { QUEUE, startBoss } from './postgres.ts'
import { sendWelcomeEmail, type User } from './tasks.ts'

// The web process: it never runs sendWelcomeEmail itself; it inserts it in Postgres for a worker.
const boss = await startBoss(process.env)

const app = new Hono<BackgroundTasksEnv>()
// `[background-tasks] sendWelcomeEmail: sent to the queue in 2 ms (POST /register)`
app.use(backgroundTasks({ transport: pgBossQueue(boss, { queue: QUEUE }), log: true }))
app.post('/register', async (c) => {
  const { email, name } = await c.req.json<{ email?: unknown; name?: unknown }>().catch(() => ({}) as Record<string, unknown>)
  if (typeof email !== 'string' || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) || typeof name !== 'string' || name.trim() === '') {
    return c.json({ error: 'expected {"email": "ada@example.com", "name": "Ada Lovelace"}' }, 400)
  }
  const user: User = { id: crypto.randomUUID(), email, name: name.trim() }
  // The job is in Postgres before this 201 leaves: killing this process right after loses nothing.
  c.var.tasks.add(sendWelcomeEmail, user)
  return c.json({ id: user.id, email: user.email }, 201)
})

const hostname = process.env.HOST
const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname }, (info) => {
  console.log(`web: listening on http://${hostname ?? 'localhost'}:${info.port} (pid ${process.pid})`)
})

// SIGTERM: refuse new requests, finish those in flight (their inserts included), then exit.
gracefulShutdown(server)
