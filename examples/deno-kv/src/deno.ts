import type { KvLike } from '../../../src/deno-kv/index.ts'

/**
 * The part of Deno's API this example uses, so that the repository's `tsc` checks it: each file
 * that uses Deno declares `declare const Deno: DenoApi`. (A module, not a global `deno.d.ts` like
 * examples/deno's, whose global `Deno` has no `openKv`.) Deno brings its own types: in your
 * project, delete this file and those declarations.
 */
export interface DenoApi {
  openKv(path?: string): Promise<KvLike>
  serve(
    options: { port?: number; hostname?: string; onListen?: (address: { hostname: string; port: number }) => void },
    handler: (request: Request, info: { completed: Promise<void> }) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> }
  env: { get(name: string): string | undefined; toObject(): Record<string, string> }
  addSignalListener(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void
  exit(code?: number): never
  readonly pid: number
}

/** The KV file both processes open: `KV_PATH`, or `tasks.sqlite3` in the current directory. */
export const kvPath = (env: { get(name: string): string | undefined }): string => env.get('KV_PATH') ?? 'tasks.sqlite3'
