import { Hono } from 'hono'
import { type BackgroundTasksEnv, backgroundTasks, task } from '../../../src/index.ts'
import { type EmailConfig, sendWelcomeEmail, type User } from './email.ts'

// Deliberately strict: one line, no spaces, one @.
const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/

/** Checks a `POST /register` body; returns the user to create, or what is wrong. */
export const parseRegistration = (body: unknown): Omit<User, 'id'> | string => {
  const { email, name } = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
  if (typeof email !== 'string' || email.length > 254 || !EMAIL.test(email)) return '`email` must be an email address like ada@example.com'
  if (typeof name !== 'string' || name.trim() === '' || name.length > 100 || /\p{Cc}/u.test(name)) {
    return '`name` must be a non-empty string of at most 100 characters, on one line'
  }
  return { email, name: name.trim() }
}

// A slow or failing email API gets two more tries, 100 ms and then 200 ms later.
const welcome = task(sendWelcomeEmail, { retries: 2 })

/**
 * `POST /register` answers 201 at once; the welcome email is sent after the response.
 * @example
 * Bun.serve({ fetch: createApp(emailConfig(process.env)).fetch, port: 3000 })
 */
export const createApp = (email: EmailConfig) => {
  const app = new Hono<BackgroundTasksEnv>()
  // One log line per finished attempt: `[background-tasks] sendWelcomeEmail: success in 84 ms (POST /register)`.
  app.use(backgroundTasks({ log: true }))
  app.post('/register', async (c) => {
    const input = parseRegistration(await c.req.json().catch(() => undefined))
    if (typeof input === 'string') return c.json({ error: input }, 400)
    const user: User = { id: crypto.randomUUID(), ...input }
    c.var.tasks.add(welcome, email, user)
    return c.json({ id: user.id, email: user.email }, 201)
  })
  return app
}
