import { Redis } from 'ioredis'

/**
 * One Redis connection as BullMQ wants it. `REDIS_URL` (`redis://localhost:6379`) or
 * `REDIS_SOCKET` (a unix socket path) says where; the default is localhost:6379.
 */
export const connect = (env: Record<string, string | undefined>): Redis => {
  // BullMQ's worker blocks on Redis; it needs `maxRetriesPerRequest: null`.
  const options = { maxRetriesPerRequest: null }
  if (env.REDIS_SOCKET) return new Redis({ ...options, path: env.REDIS_SOCKET })
  return new Redis(env.REDIS_URL ?? 'redis://localhost:6379', options)
}

/** The queue both processes use. */
export const QUEUE = 'tasks'
