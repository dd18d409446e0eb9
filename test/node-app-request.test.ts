import { describe } from 'vitest'
import { behaviourSuite } from './_support/behaviour-suite.ts'
import { createScenarioApp } from './fixtures/scenario-app.ts'

describe('Node, app.request (in-process runner)', () => {
  const app = createScenarioApp()
  behaviourSuite(() => ({ fetch: async (path, init) => app.request(path, init) }))
})
