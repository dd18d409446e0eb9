import { createExecutionContext, createMessageBatch, getQueueResult, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { app, queue } from '../src/index.ts'
import { type Invitation, type InvitationRecord, invitationKey } from '../src/invitations.ts'
import type { Env } from '../src/tasks.ts'

const invite = (body: unknown) =>
  new Request('https://example.com/invite', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })

const invitation = (id: string): Invitation => ({
  id,
  email: 'grace@example.com',
  name: 'Grace Hopper',
  invitedAt: '2026-04-01T00:00:00.000Z',
})

/** A queue message carrying `sendInvitation`, as the middleware sends it. */
const taskMessage = (id: string, attempts: number) => ({
  id: `msg-${id}-${attempts}`,
  timestamp: 0,
  attempts,
  body: { task: 'sendInvitation', args: [invitation(id)], id: `task-${id}`, enqueuedAt: 0 },
})

/** An EMAIL binding that records what it is asked to send, and refuses it if told to. */
const recordingEmail = (refuse = false) => {
  const sent: string[] = []
  const binding = {
    async send(message: EmailMessage) {
      if (refuse) throw new Error(`email to ${message.to} not allowed`)
      sent.push(message.to)
      return { messageId: `local-${sent.length}` }
    },
  } as SendEmail
  return { binding, sent }
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('POST /invite: a durable task through the TASKS queue', () => {
  it('answers 202 at once; after the response the invitation goes to the queue, and the consumer sends it', async () => {
    const ctx = createExecutionContext()
    const waitUntil = vi.spyOn(ctx, 'waitUntil')
    const sendBatch = vi.spyOn(env.TASKS, 'sendBatch')

    const res = await app.fetch(invite({ email: 'grace@example.com', name: 'Grace Hopper' }), env, ctx)
    expect(res.status).toBe(202)
    // Nothing has left before the response is finished.
    expect(sendBatch).not.toHaveBeenCalled()
    const { id } = await res.json<{ id: string }>()
    await waitOnExecutionContext(ctx)
    expect(waitUntil).toHaveBeenCalledOnce()
    expect(sendBatch).toHaveBeenCalledOnce()

    // The real local queue delivers it to the Worker's `queue` export, which sends the email.
    await vi.waitFor(
      async () => {
        const found = await app.fetch(new Request(`https://example.com/invite/${id}`), env, createExecutionContext())
        expect(found.status).toBe(200)
      },
      { timeout: 8_000, interval: 50 },
    )
    const record = await env.AUDIT.get<InvitationRecord>(invitationKey(id), 'json')
    expect(record).toEqual({
      id,
      email: 'grace@example.com',
      name: 'Grace Hopper',
      invitedAt: expect.any(String),
      messageId: expect.any(String),
      sentAt: expect.any(String),
      attempt: 1,
    })
  }, 10_000)

  it('answers 400 to bad input and queues nothing', async () => {
    const ctx = createExecutionContext()
    const waitUntil = vi.spyOn(ctx, 'waitUntil')
    const res = await app.fetch(invite({ email: 'grace@example.com\r\nBcc: everyone@example.com', name: 'Grace' }), env, ctx)
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ error: '`email` must be an email address like ada@example.com' })
    await waitOnExecutionContext(ctx)
    expect(waitUntil).not.toHaveBeenCalled()
  })
})

describe('the queue consumer', () => {
  it('sends an invitation once, even when the queue delivers it twice (at-least-once)', async () => {
    const email = recordingEmail()
    const testEnv: Env = { ...env, EMAIL: email.binding }
    for (const attempts of [1, 2]) {
      const batch = createMessageBatch('example-tasks', [taskMessage('twice', attempts)])
      const ctx = createExecutionContext()
      await queue(batch, testEnv)
      expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual([`msg-twice-${attempts}`])
    }
    expect(email.sent).toEqual(['grace@example.com'])
  })

  it('retries a refused email with backoff instead of losing it, and never acks it', async () => {
    const logged: unknown[][] = []
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      logged.push(args)
    })
    const email = recordingEmail(true)
    const batch = createMessageBatch('example-tasks', [taskMessage('refused', 2)])
    const retried: (QueueRetryOptions | undefined)[] = []
    const message = batch.messages[0]!
    const retry = message.retry.bind(message)
    message.retry = (options) => {
      retried.push(options)
      retry(options)
    }
    const ctx = createExecutionContext()
    await queue(batch, { ...env, EMAIL: email.binding })
    const result = await getQueueResult(batch, ctx)
    expect(result.explicitAcks).toEqual([])
    expect(result.retryMessages).toEqual([{ msgId: 'msg-refused-2' }])
    // The second delivery failed: the next one comes 10 s later (5 s, 10 s, 20 s, ...).
    expect(retried).toEqual([{ delaySeconds: 10 }])
    expect(logged).toEqual([
      [
        '[background-tasks] durable task "sendInvitation" (id task-refused) failed on attempt 2; retrying:',
        new Error('email to grace@example.com not allowed'),
      ],
    ])
    expect(await env.AUDIT.get(invitationKey('refused'))).toBeNull()
  })

  it('keeps what reaches the dead-letter queue in KV, and acks it there', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {})
    const dead = taskMessage('dead', 4)
    const batch = createMessageBatch('example-tasks-dead', [{ ...dead, attempts: 1 }])
    const ctx = createExecutionContext()
    await queue(batch, env)
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual([dead.id])
    expect(await env.AUDIT.get(`dead:${dead.id}`, 'json')).toEqual(dead.body)
  })
})
