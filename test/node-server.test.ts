import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { afterAll, beforeAll, describe } from 'vitest'
import { behaviourSuite } from './_support/behaviour-suite.ts'
import { createScenarioApp } from './fixtures/scenario-app.ts'

describe('Node, @hono/node-server on a real socket', () => {
  let server: ReturnType<typeof serve>
  let base = ''
  beforeAll(async () => {
    await new Promise<void>((resolve) => {
      server = serve({ fetch: createScenarioApp().fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
        base = `http://127.0.0.1:${info.port}`
        resolve()
      })
    })
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))
  behaviourSuite(() => ({ fetch: (path, init) => fetch(base + path, init) }))
})
