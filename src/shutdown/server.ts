import { type BunServerLike, bunServer } from '../runtime/bun.ts'
import { type DenoServerLike, denoServer } from '../runtime/deno.ts'
import { isNodeServer, type NodeServerLike, nodeServer } from '../runtime/node.ts'
import { describeValue } from '../validate.ts'

/** A server `gracefulShutdown()` can stop: @hono/node-server's, Bun's or Deno's. */
export type ShutdownServer = NodeServerLike | BunServerLike | DenoServerLike

/** A server as the shutdown drives it, whatever the runtime; each runtime's file makes its own. */
export interface StoppableServer {
  /** Stops accepting connections and refuses new requests; resolves once the responses in flight are sent. */
  stop(): Promise<void>
  /** How many responses are still in flight, when the runtime tells. */
  inFlight(): number | undefined
  /** At the deadline: cuts the connections that are left. */
  force(): void
  /** Undoes what wrapping the server did, if no shutdown has started. */
  dispose(): void
}

/** Adapts a Node, Bun or Deno server; throws in the project's one-line style for anything else. */
export const stoppable = (api: string, server: unknown): StoppableServer => {
  if (typeof server === 'object' && server !== null) {
    if (typeof (server as DenoServerLike).shutdown === 'function') return denoServer(server as DenoServerLike)
    if (isNodeServer(server)) return nodeServer(server)
    if (typeof (server as BunServerLike).stop === 'function') return bunServer(server as BunServerLike)
  }
  throw new TypeError(
    `${api}: expected \`server\` to be the server that @hono/node-server's serve(), Bun.serve() or Deno.serve() returned, got ${describeValue(server)}`,
  )
}
