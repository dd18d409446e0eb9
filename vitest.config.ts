import { cloudflareTest } from '@cloudflare/vitest-plugin'
import { defineConfig } from 'vitest/config'

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
        plugins: [cloudflareTest({ wrangler: { configPath: './wrangler.toml' } })],
        test: { name: 'example-cloudflare', include: ['examples/cloudflare/test/**/*.test.ts'] },
      },
    ],
  },
})
