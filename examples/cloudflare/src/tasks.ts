import { EmailMessage } from 'cloudflare:email'

/** The bindings and variables declared in the root `wrangler.toml`. */
export interface Env {
  /** Audit records, one per registered user, under `audit:<id>`. */
  AUDIT: KVNamespace
  /** Cloudflare's `send_email` binding. */
  EMAIL: SendEmail
  /** The sender of the welcome email; its domain must be set up for sending on Cloudflare. */
  MAIL_FROM: string
  /** Milliseconds to hold the welcome email back, as a slow email API would. Unset in production. */
  SIMULATED_EMAIL_LATENCY_MS?: string
  /** The queue durable tasks go to (`POST /invite`); the same Worker consumes it. */
  TASKS: Queue
}

/** A registered user. */
export interface User {
  id: string
  email: string
  name: string
  registeredAt: string
}

/** What `GET /audit/:id` returns: the user, and the welcome email once it has been sent. */
export interface AuditRecord extends User {
  welcomeEmail: { messageId: string; sentAt: string } | null
}

/** The KV key of a user's audit record. */
export const auditKey = (id: string): string => `audit:${id}`

/**
 * Background task: puts the registration on record, before the email, so that it is kept even
 * if the email never goes out.
 */
export async function writeAuditRecord(env: Env, user: User): Promise<void> {
  const record: AuditRecord = { ...user, welcomeEmail: null }
  await env.AUDIT.put(auditKey(user.id), JSON.stringify(record))
}

/** Background task: sends the welcome email and notes its message id on the audit record. */
export async function sendWelcomeEmail(env: Env, user: User): Promise<void> {
  const latency = Number(env.SIMULATED_EMAIL_LATENCY_MS ?? 0)
  if (latency > 0) await scheduler.wait(latency)
  const message = new EmailMessage(env.MAIL_FROM, user.email, welcomeEmail(env.MAIL_FROM, user))
  const { messageId } = await env.EMAIL.send(message)
  const record: AuditRecord = { ...user, welcomeEmail: { messageId, sentAt: new Date().toISOString() } }
  await env.AUDIT.put(auditKey(user.id), JSON.stringify(record))
}

/** RFC 2047 encoded-word, so that names outside ASCII survive the trip through mail headers. */
const encodeHeader = (text: string): string => {
  const bytes = new TextEncoder().encode(text)
  return `=?UTF-8?B?${btoa(String.fromCharCode(...bytes))}?=`
}

/**
 * The raw MIME text of the welcome email. `user` must come from `parseRegistration()`, which
 * rules out the line breaks that would let a name or address inject headers.
 */
export const welcomeEmail = (from: string, user: User): string => {
  const domain = from.slice(from.lastIndexOf('@') + 1)
  return [
    `From: ${from}`,
    `To: ${user.email}`,
    `Subject: ${encodeHeader(`Welcome, ${user.name}!`)}`,
    `Message-ID: <${user.id}@${domain}>`,
    `Date: ${new Date().toUTCString()}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    `Hi ${user.name},`,
    '',
    'your account is ready. This email was sent after the server had already answered you.',
    '',
  ].join('\r\n')
}
