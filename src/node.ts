/**
 * The 0.1 name of `hono-background-tasks/shutdown`, kept as an alias: import from that instead.
 * @module
 */
export * from './shutdown/index.ts'
