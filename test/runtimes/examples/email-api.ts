/**
 * A stand-in for the examples' email API on 127.0.0.1: it records each email and holds its answer
 * until the test releases it, so a test can see the email being sent while the client already
 * has its response.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/** An email as the examples send it (Resend's JSON), with the key it came with. */
export interface ReceivedEmail {
  authorization: string | undefined
  from: string
  to: string[]
  subject: string
  text: string
}

export interface EmailApi {
  /** `http://127.0.0.1:<port>/emails`. */
  readonly url: string
  /** Every email received so far. */
  readonly received: ReceivedEmail[]
  /** Resolves once `count` emails have arrived. */
  arrived(count: number): Promise<ReceivedEmail[]>
  /** Answers every email held so far with 200 `{ id }`. */
  release(): void
  close(): Promise<void>
}

export const startEmailApi = async (): Promise<EmailApi> => {
  const received: ReceivedEmail[] = []
  const held: (() => void)[] = []
  const watchers = new Set<() => void>()
  const server = createServer(async (req, res) => {
    let body = ''
    for await (const chunk of req) body += chunk
    received.push({ authorization: req.headers.authorization, ...(JSON.parse(body) as Omit<ReceivedEmail, 'authorization'>) })
    const id = `email-${received.length}`
    for (const watch of watchers) watch()
    await new Promise<void>((resolve) => held.push(resolve))
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/emails`,
    received,
    arrived: (count) =>
      new Promise((resolve) => {
        const watch = () => {
          if (received.length < count) return
          watchers.delete(watch)
          resolve(received.slice())
        }
        watchers.add(watch)
        watch()
      }),
    release: () => {
      for (const answer of held.splice(0)) answer()
    },
    close: () =>
      new Promise((resolve) => {
        for (const answer of held.splice(0)) answer()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
