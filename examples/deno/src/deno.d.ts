// The part of Deno's API this example uses, so that the repository's `tsc` checks it. Deno itself
// brings these types: in your own project, delete this file.
declare namespace Deno {
  interface HttpServer {
    /** Stops accepting connections; resolves once the open ones are done. */
    shutdown(): Promise<void>
  }
}

declare const Deno: {
  serve(
    options: { port?: number; hostname?: string; onListen?: (address: { hostname: string; port: number }) => void },
    handler: (request: Request, info: { completed: Promise<void> }) => Response | Promise<Response>,
  ): Deno.HttpServer
  env: { get(name: string): string | undefined; toObject(): Record<string, string> }
  addSignalListener(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void
  exit(code?: number): never
}
