/**
 * `bun test/runtimes/servers/bun.ts`: serves the runtime app with `Bun.serve` on 127.0.0.1 (the
 * handler gets the `Server` as its env) and prints `listening on <url>` once it accepts connections.
 */
import { createRuntimeApp } from './app.ts'

declare const Bun: {
  serve(options: { port: number; hostname: string; fetch: (request: Request, server: unknown) => Response | Promise<Response> }): {
    url: URL
  }
}

const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: createRuntimeApp().fetch })
console.log(`listening on ${server.url.origin}`)
