import { afterAll, beforeAll, describe } from 'vitest'
import { behaviourSuite } from '../_support/behaviour-suite.ts'
import { passThroughSuite } from '../_support/pass-through-suite.ts'
import { stallingClient } from '../_support/stalling-client.ts'
import { lifetimeChecks } from './lifetime-checks.ts'
import { rulesFor, runtimeRun, titleOf } from './matrix.ts'
import { type ServerProcess, startServer } from './process.ts'

const run = runtimeRun('deno')

describe(titleOf(run), () => {
  let server: ServerProcess
  beforeAll(async () => {
    // `hono` and the .ts sources come from the repository: node_modules as it is, no lockfile, no network.
    const args = [
      'run',
      '--node-modules-dir=manual',
      '--no-lock',
      '--cached-only',
      '--no-prompt',
      '--allow-net=127.0.0.1',
      'test/runtimes/servers/deno.ts',
    ]
    server = await startServer('node_modules/.bin/deno', args, { env: { DENO_NO_UPDATE_CHECK: '1' }, ready: /listening on (http:\/\/\S+)/ })
  })
  afterAll(() => server?.stop())
  const target = () => ({ fetch: (path: string, init?: RequestInit) => fetch(server.base + path, init) })
  lifetimeChecks(run, target)
  behaviourSuite(target, rulesFor(run))
  passThroughSuite(() => ({ ...target(), origin: server.base }), { stallingClient })
})
