/**
 * The pass-through suite on Node: through app.request, then on a real @hono/node-server socket,
 * then through app.request again once node-server has replaced the global Response (as it does
 * in any test file that starts a server).
 */
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { afterAll, beforeAll, describe } from 'vitest'
import { passThroughSuite } from './_support/pass-through-suite.ts'
import { stallingClient } from './_support/stalling-client.ts'
import { createScenarioApp } from './fixtures/scenario-app.ts'

const app = createScenarioApp()
const inProcess = () => ({ fetch: async (path: string, init?: RequestInit) => app.request(path, init) })

describe('Node, app.request', () => {
  passThroughSuite(inProcess, { inProcess: true })
})

describe('Node, @hono/node-server socket', () => {
  let server: ReturnType<typeof serve>
  let origin = ''
  beforeAll(async () => {
    await new Promise<void>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
        origin = `http://127.0.0.1:${info.port}`
        resolve()
      })
    })
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))
  passThroughSuite(() => ({ origin, fetch: (path, init) => fetch(origin + path, init) }), { stallingClient })
})

describe('Node, app.request after @hono/node-server replaced the global Response', () => {
  passThroughSuite(inProcess, { inProcess: true })
})
