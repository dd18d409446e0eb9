import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { Log, LogLevel } from 'miniflare'
import { defineConfig } from 'vitest/config'

// Vitest 5's reporter uses Map.groupBy (Node 21+) to print failures; these machines run Node 20.
if (typeof (Map as { groupBy?: unknown }).groupBy !== 'function') {
  Object.defineProperty(Map, 'groupBy', {
    value: <K, T>(items: Iterable<T>, key: (item: T, index: number) => K) => {
      const groups = new Map<K, T[]>()
      let index = 0
      for (const item of items) {
        const k = key(item, index++)
        const group = groups.get(k)
        if (group) group.push(item)
        else groups.set(k, [item])
      }
      return groups
    },
  })
}

// test/queue/delivery.spec.ts fails tasks on purpose until the local queue moves them to its
// dead-letter queue, and asserts that they arrive there. Miniflare warns about each move from this
// process, where no test can catch it; those warnings, and only those, stay out of a green run.
const logWithLevel = Log.prototype.logWithLevel
Log.prototype.logWithLevel = function (this: Log, level: LogLevel, message: string) {
  if (level === LogLevel.WARN && /^Moving message "[^"]+" on queue "tasks" to dead letter queue "tasks-dead" /.test(message)) return
  logWithLevel.call(this, level, message)
}

// One project per runtime. Workers code runs inside workerd through the Cloudflare plugin,
// one project per wrangler config.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/workerd/**'],
          testTimeout: 20_000,
          hookTimeout: 60_000,
        },
      },
      {
        plugins: [cloudflareTest({ wrangler: { configPath: './test/workerd/wrangler.toml' } })],
        test: { name: 'workerd', include: ['test/workerd/**/*.test.ts'] },
      },
      {
        plugins: [cloudflareTest({ wrangler: { configPath: './test/queue/wrangler.toml' } })],
        test: { name: 'workerd-queue', include: ['test/queue/**/*.spec.ts'] },
      },
      {
        plugins: [cloudflareTest({ wrangler: { configPath: './wrangler.toml' } })],
        test: { name: 'example-cloudflare', include: ['examples/cloudflare/test/**/*.test.ts'] },
      },
    ],
  },
})
