import { defineTask } from '../../../src/durable/index.ts'
import type { TaskContext } from '../../../src/index.ts'
import type { DenoApi } from './deno.ts'

declare const Deno: DenoApi

/** A registered user, as the web process passes it to the worker (JSON). */
export interface User {
  id: string
  email: string
  name: string
}

/**
 * The durable task: the web process only enqueues it in the KV store; a worker process runs it by
 * this name. Its `retries` and `retryDelay` become the message's `backoffSchedule` (Deno KV allows
 * at most 5 retries, at most an hour apart), plus a spare delivery for a worker that dies mid-task.
 */
export const sendWelcomeEmail = defineTask(
  'sendWelcomeEmail',
  async function (this: TaskContext<Record<string, string | undefined>>, user: User): Promise<void> {
    const { EMAIL_API_URL = 'https://api.resend.com/emails', EMAIL_API_KEY, MAIL_FROM = 'welcome@example.com' } = this.env
    const where = `worker pid ${Deno.pid}, message ${this.id}, attempt ${this.attempt}`
    if (!EMAIL_API_KEY) {
      console.log(`[email] welcome email to ${user.email} sent (logged only: EMAIL_API_KEY is not set) by ${where}`)
      return
    }
    const res = await fetch(EMAIL_API_URL, {
      method: 'POST',
      // Aborted on the task's timeout, and when the worker's stop() gives up on it.
      signal: this.signal,
      headers: {
        authorization: `Bearer ${EMAIL_API_KEY}`,
        'content-type': 'application/json',
        // The same on every delivery of this message: the provider drops a duplicate.
        'idempotency-key': this.id,
      },
      body: JSON.stringify({
        from: MAIL_FROM,
        to: [user.email],
        subject: `Welcome, ${user.name}!`,
        text: `Hi ${user.name},\n\nyour account is ready. A worker sent this email, after the web server had answered you.\n`,
      }),
    })
    if (!res.ok) throw new Error(`the email API answered ${res.status}: ${await res.text()}`)
    console.log(`[email] welcome email to ${user.email} sent by ${where}`)
  },
  { retries: 3, retryDelay: 5_000, timeout: 10_000 },
)

/** Every durable task, for the worker. */
export const tasks = [sendWelcomeEmail]
