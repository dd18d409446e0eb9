/**
 * The checks every register example gets: started with the command its README gives, it answers
 * `201` while the welcome email is still being sent, refuses bad input, and on SIGTERM waits for
 * the email it is sending before it exits.
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ServerProcess, startServer } from '../process.ts'
import { type EmailApi, startEmailApi } from './email-api.ts'

export interface RegisterExample {
  /** The example's README, which must give `command`. */
  readme: string
  /** The README's command, e.g. `node examples/node/start.mjs`. */
  command: string
  /** How to spawn it here (the local binaries of `npx`). */
  spawn: [string, ...string[]]
  /** Where the app answers `POST`: `/register`, `/api/register`. */
  route: string
  /** What the example logs once a SIGTERM has started its shutdown. */
  draining: RegExp
  /** What it logs once everything finished, before it exits with 0. */
  drained: RegExp
  env?: Record<string, string>
}

export const registerExample = (example: RegisterExample): void => {
  describe(`${example.command}`, () => {
    let api: EmailApi
    let server: ServerProcess
    beforeAll(async () => {
      api = await startEmailApi()
      const [command, ...args] = example.spawn
      server = await startServer(command, args, {
        env: {
          PORT: '0',
          HOST: '127.0.0.1',
          EMAIL_API_URL: api.url,
          EMAIL_API_KEY: 're_test',
          MAIL_FROM: 'welcome@example.com',
          ...example.env,
        },
        ready: /listening on (http:\/\/127\.0\.0\.1:\d+)/,
      })
    })
    afterAll(async () => {
      await server?.stop()
      await api?.close()
    })
    const successesLogged = (): number => server.output().match(/sendWelcomeEmail: success/g)?.length ?? 0
    /** Resolves once the example has logged `count` successful welcome emails in all. */
    const logged = (count: number) =>
      server.waitForOutput(new RegExp(`(sendWelcomeEmail: success in \\d+ ms \\(POST \\S*register\\)[\\s\\S]*){${count}}`))
    const register = (body: unknown) =>
      fetch(server.base + example.route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

    it('is the command its README gives', () => {
      expect(readFileSync(example.readme, 'utf8')).toContain(example.command)
    })

    it('answers 201 while the welcome email is still being sent, then sends it', async () => {
      const successes = successesLogged()
      const res = await register({ email: 'ada@example.com', name: 'Ada Lovelace' })
      expect(res.status).toBe(201)
      const { id, email } = (await res.json()) as { id: string; email: string }
      expect(email).toBe('ada@example.com')
      expect(id).toMatch(/^[0-9a-f-]{36}$/)
      // The email API holds its answer: the client had its 201 before the email was done.
      const [sent] = await api.arrived(1)
      expect(sent).toEqual({
        authorization: 'Bearer re_test',
        from: 'welcome@example.com',
        to: ['ada@example.com'],
        subject: 'Welcome, Ada Lovelace!',
        text: expect.stringContaining('your account is ready'),
      })
      api.release()
      await logged(successes + 1)
    })

    it('answers 400 to bad input and sends nothing', async () => {
      const before = api.received.length
      const successes = successesLogged()
      const res = await register({ email: 'not an email', name: 'Ada' })
      expect(res.status).toBe(400)
      expect(await res.json()).toEqual({ error: '`email` must be an email address like ada@example.com' })
      // A request with a task after it: had the bad one added a task, its email would come first.
      await register({ email: 'grace@example.com', name: 'Grace Hopper' })
      const emails = await api.arrived(before + 1)
      expect(emails.slice(before).map((e) => e.to)).toEqual([['grace@example.com']])
      api.release()
      await logged(successes + 1)
    })

    it('on SIGTERM, finishes the email it is sending before it exits', async () => {
      const before = api.received.length
      expect((await register({ email: 'ada@example.com', name: 'Ada' })).status).toBe(201)
      await api.arrived(before + 1)
      server.signal('SIGTERM')
      await server.waitForOutput(example.draining)
      // The email is held, so the process cannot have finished its shutdown yet.
      expect(server.exitCode()).toBe(null)
      api.release()
      expect(await server.exited()).toBe(0)
      expect(server.output()).toMatch(example.drained)
    })
  })
}
