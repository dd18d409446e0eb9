import { Hono } from 'hono'
import { cloudflareQueue, queueConsumer } from '../../../src/cloudflare/index.ts'
import { type BackgroundTasksEnv, backgroundTasks, task } from '../../../src/index.ts'
import { type Invitation, type InvitationRecord, invitationKey, keepDeadTasks, sendInvitation } from './invitations.ts'
import { type AuditRecord, auditKey, type Env, sendWelcomeEmail, type User, writeAuditRecord } from './tasks.ts'

/** What `POST /register` accepts, once checked. */
export interface Registration {
  email: string
  name: string
}

// Deliberately strict: no whitespace or control characters, so nothing can break out of a mail header.
const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/
const CONTROL = /\p{Cc}/u

/** Checks a `POST /register` body; returns the registration, or a message saying what is wrong. */
export const parseRegistration = (body: unknown): Registration | string => {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'expected a JSON object like {"email": "...", "name": "..."}'
  const { email, name } = body as Record<string, unknown>
  if (typeof email !== 'string' || email.length > 254 || !EMAIL.test(email)) return '`email` must be an email address like ada@example.com'
  if (typeof name !== 'string' || name.trim() === '' || name.length > 100 || CONTROL.test(name)) {
    return '`name` must be a non-empty string of at most 100 characters, on one line'
  }
  return { email, name: name.trim() }
}

// A slow or failing email API gets two more tries; the defaults wait 100 ms, then 200 ms.
const welcome = task(sendWelcomeEmail, { retries: 2 })

/**
 * The example app: `POST /register` answers 201 at once, then writes the audit record and sends
 * the welcome email in-process; `POST /invite` answers 202 and sends the invitation through the
 * `TASKS` queue (a durable task). `GET /audit/:id` and `GET /invite/:id` read the results back.
 * @example
 * // wrangler.toml: main = "examples/cloudflare/src/index.ts"
 * export default { fetch: app.fetch, queue }
 */
export const app = new Hono<{ Bindings: Env } & BackgroundTasksEnv>()

app.use(
  backgroundTasks({
    // One line per finished attempt: `[background-tasks] sendWelcomeEmail: success in 3 ms (POST /register)`.
    log: true,
    // And one as each attempt starts, so that the console shows when the work ran: `[tasks] sendWelcomeEmail: started (POST /register)`.
    onTaskStart: (started, c) => {
      const attempt = started.attempt === 1 ? '' : ` (attempt ${started.attempt})`
      console.log(`[tasks] ${started.name}${attempt}: started (${c.req.method} ${c.req.path})`)
    },
    // Durable tasks (defineTask) go to this queue after the response instead of running here.
    transport: cloudflareQueue('TASKS'),
    onError: (error, failed, c) => {
      const reason = error instanceof Error ? error.message : String(error)
      const attempts = failed.attempt === 1 ? '1 attempt' : `${failed.attempt} attempts`
      console.error(`[register] gave up on ${failed.name} after ${attempts} (${c.req.method} ${c.req.path}): ${reason}`)
    },
  }),
)

app.post('/register', async (c) => {
  const input = parseRegistration(await c.req.json().catch(() => undefined))
  if (typeof input === 'string') return c.json({ error: input }, 400)
  const user: User = { id: crypto.randomUUID(), ...input, registeredAt: new Date().toISOString() }
  // Tasks run one at a time, in this order, after the response has been sent.
  c.var.tasks.add(writeAuditRecord, c.env, user)
  c.var.tasks.add(welcome, c.env, user)
  return c.json({ id: user.id, email: user.email }, 201)
})

app.get('/audit/:id', async (c) => {
  const record = await c.env.AUDIT.get<AuditRecord>(auditKey(c.req.param('id')), 'json')
  return record ? c.json(record) : c.json({ error: 'no audit record with this id (yet)' }, 404)
})

app.post('/invite', async (c) => {
  const input = parseRegistration(await c.req.json().catch(() => undefined))
  if (typeof input === 'string') return c.json({ error: input }, 400)
  const invitation: Invitation = { id: crypto.randomUUID(), ...input, invitedAt: new Date().toISOString() }
  // Durable: after the response this is sent to the TASKS queue, and the `queue` export sends the email.
  c.var.tasks.add(sendInvitation, invitation)
  return c.json({ id: invitation.id }, 202)
})

app.get('/invite/:id', async (c) => {
  const record = await c.env.AUDIT.get<InvitationRecord>(invitationKey(c.req.param('id')), 'json')
  return record ? c.json(record) : c.json({ error: 'no invitation sent with this id (yet)' }, 404)
})

/** Runs the durable tasks the `TASKS` queue delivers, by name. */
const consumeTasks = queueConsumer<Env>({ tasks: [sendInvitation] })

/**
 * The Worker's `queue` handler: tasks from `example-tasks`; what ends in `example-tasks-dead`
 * after `max_retries` is kept in KV.
 */
export const queue = async (batch: MessageBatch, env: Env): Promise<void> => {
  if (batch.queue === 'example-tasks-dead') await keepDeadTasks(batch, env)
  else await consumeTasks(batch, env)
}

export default { fetch: app.fetch, queue } satisfies ExportedHandler<Env>
