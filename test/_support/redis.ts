/**
 * A real redis-server for the BullMQ tests: started in a temporary directory on a unix socket,
 * with no persistence, and stopped by its pid afterwards. Outside CI, a machine without
 * redis-server skips these tests and says how to install it; under CI=true they fail instead.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe } from 'vitest'

/** The binary: `redis-server` on the PATH, or REDIS_SERVER (another build, or a missing one to see these tests skip). */
const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server'

const INSTALL = `${REDIS_SERVER} is not installed: \`apt-get install -y redis-server\` (Debian/Ubuntu) or \`brew install redis\``

/** Whether `redis-server` can be run here. */
export const hasRedis = (): boolean => spawnSync(REDIS_SERVER, ['--version'], { stdio: 'ignore' }).status === 0

/** A running redis-server. */
export interface RedisServer {
  /** Its unix socket. */
  readonly socket: string
  /** A new ioredis client on it, as BullMQ wants it (`maxRetriesPerRequest: null`); closed by `stop()`. */
  connect(): Redis
  stop(): Promise<void>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Starts redis-server in a new temporary directory, on a unix socket and no TCP port. */
export const startRedis = async (): Promise<RedisServer> => {
  const dir = await mkdtemp(join(tmpdir(), 'hbt-redis-'))
  const socket = join(dir, 'redis.sock')
  const pidfile = join(dir, 'redis.pid')
  execFileSync(REDIS_SERVER, [
    '--port', '0',
    '--unixsocket', socket,
    '--unixsocketperm', '700',
    '--save', '',
    '--appendonly', 'no',
    '--maxmemory-policy', 'noeviction',
    '--dir', dir,
    '--daemonize', 'yes',
    '--pidfile', pidfile,
    '--logfile', join(dir, 'redis.log'),
  ]) // biome-ignore format: one flag per line
  // --daemonize returns before the socket exists; wait for it (a bounded poll, not a timing assertion).
  for (let i = 0; i < 200 && !(existsSync(socket) && existsSync(pidfile)); i++) await sleep(10)
  if (!existsSync(socket))
    throw new Error(`redis-server did not open ${socket}:\n${await readFile(join(dir, 'redis.log'), 'utf8').catch(() => '')}`)
  const pid = Number((await readFile(pidfile, 'utf8')).trim())
  const clients: Redis[] = []
  return {
    socket,
    connect() {
      const client = new Redis({ path: socket, maxRetriesPerRequest: null })
      clients.push(client)
      return client
    },
    async stop() {
      for (const client of clients) client.disconnect()
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/**
 * `describe()` with a fresh redis-server for the block: `redis()` returns it inside the tests.
 * Skipped with a message where redis-server is missing, unless CI=true, where that is a failure.
 */
export const describeWithRedis = (name: string, body: (redis: () => RedisServer) => void): void => {
  if (!hasRedis()) {
    if (process.env.CI === 'true') {
      describe(name, () => {
        beforeAll(() => {
          throw new Error(`${INSTALL}; CI must install it (.ci/run does)`)
        })
        body(() => {
          throw new Error(INSTALL)
        })
      })
      return
    }
    console.warn(`[bullmq tests] skipped: ${INSTALL}`)
    describe.skip(name, () => body(() => undefined as never))
    return
  }
  describe(name, () => {
    let server: RedisServer | undefined
    beforeAll(async () => {
      server = await startRedis()
    })
    afterAll(async () => {
      await server?.stop()
    })
    body(() => {
      if (!server) throw new Error('redis-server has not started')
      return server
    })
  })
}
