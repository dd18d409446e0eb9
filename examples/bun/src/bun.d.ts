// The part of Bun's API this example uses, so that the repository's `tsc` checks it without
// `@types/bun`. In your own project, install `@types/bun` instead of this file.
declare namespace Bun {
  interface Server {
    readonly url: URL
    /** Stops accepting connections; resolves once the open ones are done. */
    stop(closeActiveConnections?: boolean): Promise<void>
  }
}

declare const Bun: {
  serve(options: {
    fetch: (request: Request, server: Bun.Server) => Response | Promise<Response>
    port?: number
    hostname?: string
  }): Bun.Server
}
