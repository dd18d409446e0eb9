import type { TaskContext } from '../../../src/index.ts'

/** Where welcome emails go: any HTTP email API that takes Resend's JSON (`POST /emails`). */
export interface EmailConfig {
  /** @default 'https://api.resend.com/emails' */
  url: string
  /** Without a key, the task logs the email instead of sending it. */
  apiKey: string | undefined
  /** The sender; its domain must be verified with the provider. */
  from: string
}

/** Reads `EMAIL_API_URL`, `EMAIL_API_KEY` and `MAIL_FROM`. */
export const emailConfig = (env: Record<string, string | undefined>): EmailConfig => ({
  url: env.EMAIL_API_URL ?? 'https://api.resend.com/emails',
  apiKey: env.EMAIL_API_KEY,
  from: env.MAIL_FROM ?? 'welcome@example.com',
})

/** A registered user. */
export interface User {
  id: string
  email: string
  name: string
}

/** Background task: sends the welcome email and returns the provider's message id. */
export async function sendWelcomeEmail(this: TaskContext, config: EmailConfig, user: User): Promise<string | undefined> {
  if (!config.apiKey) {
    console.log(`[email] EMAIL_API_KEY is not set, so the welcome email to ${user.email} is only logged`)
    return undefined
  }
  const res = await fetch(config.url, {
    method: 'POST',
    // Aborted when the attempt times out or a shutdown gives up on it.
    signal: this.signal,
    headers: { authorization: `Bearer ${config.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      from: config.from,
      to: [user.email],
      subject: `Welcome, ${user.name}!`,
      text: `Hi ${user.name},\n\nyour account is ready. This email was sent after the server had already answered you.\n`,
    }),
  })
  if (!res.ok) throw new Error(`the email API answered ${res.status}: ${await res.text()}`)
  const { id } = (await res.json()) as { id?: string }
  return id
}
