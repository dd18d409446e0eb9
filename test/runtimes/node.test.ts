import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { afterAll, beforeAll, describe } from 'vitest'
import { lifetimeChecks } from './lifetime-checks.ts'
import { runtimeRun, titleOf } from './matrix.ts'
import { createRuntimeApp } from './servers/app.ts'

// The behaviour suite runs on @hono/node-server in test/node-server.test.ts; this file proves the
// Node row's lifetime and task start on the same kind of server.
const run = runtimeRun('node-server')

describe(titleOf(run), () => {
  let server: ReturnType<typeof serve>
  let base = ''
  beforeAll(async () => {
    await new Promise<void>((resolve) => {
      server = serve({ fetch: createRuntimeApp().fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
        base = `http://127.0.0.1:${info.port}`
        resolve()
      })
    })
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))
  lifetimeChecks(run, () => ({ fetch: (path, init) => fetch(base + path, init) }))
})

const appRequest = runtimeRun('node-app-request')

describe(titleOf(appRequest), () => {
  const app = createRuntimeApp()
  lifetimeChecks(appRequest, () => ({ fetch: async (path, init) => app.request(path, init) }))
})
