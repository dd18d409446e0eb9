/**
 * `deno run --allow-net test/runtimes/servers/deno.ts`: serves the runtime app with `Deno.serve`
 * on 127.0.0.1 (the handler gets `info`, whose `completed` settles once the response is sent) and
 * prints `listening on <url>` once it accepts connections.
 */
import { createRuntimeApp } from './app.ts'

declare const Deno: {
  serve(
    options: { port: number; hostname: string; onListen(address: { hostname: string; port: number }): void },
    handler: (request: Request, info: unknown) => Response | Promise<Response>,
  ): unknown
}

const onListen = ({ hostname, port }: { hostname: string; port: number }) => console.log(`listening on http://${hostname}:${port}`)
Deno.serve({ port: 0, hostname: '127.0.0.1', onListen }, createRuntimeApp().fetch)
