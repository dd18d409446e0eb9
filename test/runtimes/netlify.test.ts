import { handle } from 'hono/netlify'
import { describe } from 'vitest'
import { behaviourSuite } from '../_support/behaviour-suite.ts'
import { passThroughSuite } from '../_support/pass-through-suite.ts'
import { lifetimeChecks } from './lifetime-checks.ts'
import { rulesFor, runtimeRun, titleOf } from './matrix.ts'
import { createRuntimeApp } from './servers/app.ts'

const run = runtimeRun('netlify')

describe(titleOf(run), () => {
  // What Netlify Functions (v2) call: `export default handle(app)`, with a context per request.
  const handler = handle(createRuntimeApp())
  const handedOff: Promise<unknown>[] = []
  let requests = 0
  const netlifyContext = () => ({
    requestId: `req-${++requests}`,
    site: { id: 'site', name: 'background-tasks', url: 'https://background-tasks.netlify.app' },
    waitUntil(promise: Promise<unknown>) {
      if (this === undefined) throw new TypeError('waitUntil called unbound')
      handedOff.push(promise)
    },
  })
  const target = () => ({
    fetch: async (path: string, init?: RequestInit) =>
      handler(new Request(new URL(path, 'https://background-tasks.netlify.app'), init), netlifyContext()),
  })
  lifetimeChecks(run, target, { handedOff: () => Promise.all(handedOff) })
  behaviourSuite(target, rulesFor(run))
  passThroughSuite(target, { inProcess: true })
})
