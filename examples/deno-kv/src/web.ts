import { Hono } from 'hono'
import { denoKvQueue } from '../../../src/deno-kv/index.ts'
import { type BackgroundTasksEnv, backgroundTasks } from '../../../src/index.ts'
import { gracefulShutdown } from '../../../src/shutdown/index.ts'
import { type DenoApi, kvPath } from './deno.ts'
import { sendWelcomeEmail, type User } from './tasks.ts'

declare const Deno: DenoApi

// The web process: it never runs sendWelcomeEmail itself; it enqueues it in the KV store for a
// worker. No denoKvWorker() here, so that only another process can run it.
const kv = await Deno.openKv(kvPath(Deno.env))

const app = new Hono<BackgroundTasksEnv>()
// `[background-tasks] sendWelcomeEmail: sent to the queue in 2 ms (POST /register)`
app.use(backgroundTasks({ transport: denoKvQueue(kv), log: true }))
app.post('/register', async (c) => {
  const { email, name } = await c.req.json<{ email?: unknown; name?: unknown }>().catch(() => ({}) as Record<string, unknown>)
  if (typeof email !== 'string' || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) || typeof name !== 'string' || name.trim() === '') {
    return c.json({ error: 'expected {"email": "ada@example.com", "name": "Ada Lovelace"}' }, 400)
  }
  const user: User = { id: crypto.randomUUID(), email, name: name.trim() }
  // The message is committed to the KV store before this 201 leaves: killing this process right after loses nothing.
  c.var.tasks.add(sendWelcomeEmail, user)
  return c.json({ id: user.id, email: user.email }, 201)
})

const hostname = Deno.env.get('HOST') ?? '0.0.0.0'
const server = Deno.serve(
  {
    port: Number(Deno.env.get('PORT') ?? 3000),
    hostname,
    onListen: ({ port }) => console.log(`web: listening on http://${hostname}:${port} (pid ${Deno.pid})`),
  },
  app.fetch,
)

// SIGTERM: refuse new requests, finish those in flight (their commits included), then exit.
gracefulShutdown(server)
