import { EmailMessage } from 'cloudflare:email'
import type { QueueBatch } from '../../../src/cloudflare/index.ts'
import { defineTask } from '../../../src/durable/index.ts'
import type { TaskContext } from '../../../src/index.ts'
import type { Env } from './tasks.ts'

/** An invitation to join, as `POST /invite` queues it. Plain JSON: it travels through the queue. */
export interface Invitation {
  id: string
  email: string
  name: string
  invitedAt: string
}

/** What `GET /invite/:id` returns once the invitation has been sent. */
export interface InvitationRecord extends Invitation {
  messageId: string
  sentAt: string
  /** The queue delivery that sent it: 1 unless earlier ones failed. */
  attempt: number
}

/** The KV key of a sent invitation. */
export const invitationKey = (id: string): string => `invite:${id}`

/** The KV key under which the dead-letter consumer keeps a task that failed for good. */
export const deadTaskKey = (messageId: string): string => `dead:${messageId}`

/**
 * Durable task: sends an invitation email. It goes through the `TASKS` queue, so an email API that
 * is down for an hour delays the invitation instead of losing it: the consumer retries it with
 * backoff, and after `max_retries` it lands in the dead-letter queue.
 */
export const sendInvitation = defineTask('sendInvitation', async function (this: TaskContext<Env>, invitation: Invitation) {
  const key = invitationKey(invitation.id)
  // Queues deliver at least once: a redelivery after the email went out must not send it again.
  // (KV is eventually consistent, so this catches redeliveries, not every race; D1 or a Durable
  // Object would make it exact.)
  if (await this.env.AUDIT.get(key)) return
  const message = new EmailMessage(this.env.MAIL_FROM, invitation.email, invitationEmail(this.env.MAIL_FROM, invitation))
  const { messageId } = await this.env.EMAIL.send(message)
  const record: InvitationRecord = { ...invitation, messageId, sentAt: new Date().toISOString(), attempt: this.attempt }
  await this.env.AUDIT.put(key, JSON.stringify(record))
})

/**
 * The dead-letter queue's consumer: keeps each task that failed for good in KV, under
 * `dead:<message id>`, for a person to look at and replay.
 */
export const keepDeadTasks = async (batch: QueueBatch, env: Env): Promise<void> => {
  for (const message of batch.messages) {
    console.error(`[invite] dead task ${message.id} after ${message.attempts} deliveries: ${JSON.stringify(message.body)}`)
    await env.AUDIT.put(deadTaskKey(message.id), JSON.stringify(message.body))
    message.ack()
  }
}

/** The raw MIME text of an invitation. `invitation` must come from `parseRegistration()`, which rules out header injection. */
export const invitationEmail = (from: string, invitation: Invitation): string => {
  const domain = from.slice(from.lastIndexOf('@') + 1)
  const subject = new TextEncoder().encode(`${invitation.name}, you are invited`)
  return [
    `From: ${from}`,
    `To: ${invitation.email}`,
    `Subject: =?UTF-8?B?${btoa(String.fromCharCode(...subject))}?=`,
    // The same on every delivery, so that a duplicate is recognisable downstream too.
    `Message-ID: <invite-${invitation.id}@${domain}>`,
    `Date: ${new Date().toUTCString()}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    `Hi ${invitation.name},`,
    '',
    'you have been invited. This email went through a queue, after the server had already answered.',
    '',
  ].join('\r\n')
}
