import type { StoppableServer } from '../runtime/adapter.ts'
import { type BunServerLike, bunServer } from '../runtime/bun.ts'
import { type DenoServerLike, denoServer } from '../runtime/deno.ts'
import { isNodeServer, type NodeServerLike, nodeServer } from '../runtime/node.ts'
import { describeValue } from '../validate.ts'

export type { StoppableServer }

/** A server `gracefulShutdown()` can stop: @hono/node-server's, Bun's or Deno's. */
export type ShutdownServer = NodeServerLike | BunServerLike | DenoServerLike

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
