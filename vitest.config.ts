import { cloudflareTest } from '@cloudflare/vitest-plugin'
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
