import { afterAll, beforeAll, describe } from 'vitest'
import { behaviourSuite } from '../_support/behaviour-suite.ts'
import { passThroughSuite } from '../_support/pass-through-suite.ts'
import { stallingClient } from '../_support/stalling-client.ts'
import { lifetimeChecks } from './lifetime-checks.ts'
import { rulesFor, runtimeRun, titleOf } from './matrix.ts'
import { type ServerProcess, startServer } from './process.ts'

const run = runtimeRun('wrangler-dev')

describe(titleOf(run), () => {
  let server: ServerProcess
  beforeAll(async () => {
    // The wrangler bin refuses Node 20; its CLI script runs fine. Offline: no request.cf download,
    // no metrics, no update check (the banner is what asks for it).
    const cli = 'node_modules/wrangler/wrangler-dist/cli.js'
    const args = ['--no-warnings', cli, 'dev', '-c', 'test/runtimes/servers/wrangler.toml']
    args.push('--ip', '127.0.0.1', '--port', '0', '--inspector-port', '0', '--show-interactive-dev-session=false', '--log-level', 'info')
    server = await startServer(process.execPath, args, {
      env: { CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', WRANGLER_HIDE_BANNER: 'true', CI: 'true' },
      ready: /Ready on (http:\/\/127\.0\.0\.1:\d+)/,
    })
  })
  afterAll(() => server?.stop())
  // workerd gzips text for a client that accepts it, and its gzip stream holds a chunk back until
  // the next one: the streaming scenarios read the first chunk before the second is written.
  const target = () => ({
    fetch: (path: string, init?: RequestInit) => {
      const headers = new Headers(init?.headers)
      headers.set('accept-encoding', 'identity')
      return fetch(server.base + path, { ...init, headers })
    },
  })
  lifetimeChecks(run, target)
  behaviourSuite(target, rulesFor(run))
  passThroughSuite(() => ({ ...target(), origin: server.base }), { stallingClient })
})
