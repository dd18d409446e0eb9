/**
 * The 0.1 name of `hono-background-tasks/durable` and `hono-background-tasks/cloudflare` together,
 * kept as an alias: import from those two instead.
 * @module
 */
export * from '../cloudflare/index.ts'
export * from '../durable/index.ts'
