/**
 * `bun test/runtimes/servers/context.ts` or `deno run ... test/runtimes/servers/context.ts`: serves
 * the context app (test/fixtures/context-app.ts) on 127.0.0.1 and prints `listening on <url>`.
 */
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
