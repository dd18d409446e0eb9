/**
 * `bun test/runtimes/servers/context.ts` or `deno run ... test/runtimes/servers/context.ts`: serves
 * the context app (test/fixtures/context-app.ts) on 127.0.0.1 and prints `listening on <url>`.
 * It also subscribes to the tasks' tracing channel: `GET /channel` adds a task that succeeds and
 * one that throws, and `GET /_/channel` answers with the events a subscriber saw for them.
 */
import { tracingChannel } from 'node:diagnostics_channel'
import { TASK_CHANNEL, type TaskChannelMessage } from '../../../src/index.ts'
import { createContextApp } from '../../fixtures/context-app.ts'

declare const Bun:
  | { serve(options: { port: number; hostname: string; fetch: (request: Request) => Response | Promise<Response> }): { url: URL } }
  | undefined
declare const Deno:
  | {
      serve(
        options: { port: number; hostname: string; onListen(address: { hostname: string; port: number }): void },
        handler: (request: Request, info: unknown) => Response | Promise<Response>,
      ): unknown
    }
  | undefined

const { app } = createContextApp()

const channelEvents: string[] = []
const on = (event: string) => (message: TaskChannelMessage) => {
  if (message.name === 'succeeds' || message.name === 'fails') {
    channelEvents.push(`${event} ${message.name}${message.outcome ? ` ${message.outcome}` : ''}`)
  }
}
tracingChannel<unknown, TaskChannelMessage>(TASK_CHANNEL).subscribe({
  start: on('start'),
  end: on('end'),
  asyncStart: on('asyncStart'),
  asyncEnd: on('asyncEnd'),
  error: on('error'),
})
app.get('/channel', (c) => {
  c.var.tasks.add(async function succeeds() {})
  c.var.tasks.add(function fails() {
    throw new Error('on purpose')
  })
  return c.text('ok')
})
app.get('/_/channel', (c) => c.json(channelEvents))
if (typeof Bun !== 'undefined') {
  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: app.fetch })
  console.log(`listening on ${server.url.origin}`)
} else if (typeof Deno !== 'undefined') {
  Deno.serve(
    { port: 0, hostname: '127.0.0.1', onListen: ({ hostname, port }) => console.log(`listening on http://${hostname}:${port}`) },
    app.fetch,
  )
} else {
  throw new Error('run this with bun or deno')
}
