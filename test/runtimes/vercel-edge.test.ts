import { afterAll, beforeAll, describe } from 'vitest'
import { behaviourSuite } from '../_support/behaviour-suite.ts'
import { passThroughSuite } from '../_support/pass-through-suite.ts'
import { stallingClient } from '../_support/stalling-client.ts'
import { bundleEdgeFunction, type EdgeFunctionShape, type EdgeRuntimeServer, serveEdgeFunction } from './edge-platform.ts'
import { lifetimeChecks } from './lifetime-checks.ts'
import { type Run, rulesFor, runtimeRun, titleOf } from './matrix.ts'

let code: Promise<string> | undefined
const bundled = () => {
  code ??= bundleEdgeFunction()
  return code
}

const edgeRun = (run: Run, shape: EdgeFunctionShape) =>
  describe(titleOf(run), () => {
    let server: EdgeRuntimeServer
    beforeAll(async () => {
      server = await serveEdgeFunction(await bundled(), shape)
    })
    // close() also waits for everything handed to waitUntil: bounded, in case a test left work behind.
    afterAll(() => server && Promise.race([server.close(), new Promise((resolve) => setTimeout(resolve, 2_000))]))
    const target = () => ({ fetch: (path: string, init?: RequestInit) => fetch(new URL(path, server.url), init) })
    lifetimeChecks(run, target, { handedOff: () => server.waitUntil() })
    behaviourSuite(target, rulesFor(run))
    passThroughSuite(() => ({ ...target(), origin: new URL(server.url).origin }), { stallingClient })
  })

edgeRun(runtimeRun('vercel-edge-context'), 'withContext')
edgeRun(runtimeRun('vercel-edge-request-context'), 'requestOnly')
