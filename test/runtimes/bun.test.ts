import { afterAll, beforeAll, describe } from 'vitest'
import { behaviourSuite } from '../_support/behaviour-suite.ts'
import { passThroughSuite } from '../_support/pass-through-suite.ts'
import { stallingClient } from '../_support/stalling-client.ts'
import { lifetimeChecks } from './lifetime-checks.ts'
import { rulesFor, runtimeRun, titleOf } from './matrix.ts'
import { type ServerProcess, startServer } from './process.ts'

const run = runtimeRun('bun')

describe(titleOf(run), () => {
  let server: ServerProcess
  beforeAll(async () => {
    server = await startServer('node_modules/.bin/bun', ['test/runtimes/servers/bun.ts'], { ready: /listening on (http:\/\/\S+)/ })
  })
  afterAll(() => server?.stop())
  const target = () => ({ fetch: (path: string, init?: RequestInit) => fetch(server.base + path, init) })
  lifetimeChecks(run, target)
  behaviourSuite(target, rulesFor(run))
  passThroughSuite(() => ({ ...target(), origin: server.base }), { stallingClient })
})
