import { createScenarioApp } from '../fixtures/scenario-app.ts'

/** The scenario app as a Worker, so tests can also reach it through `exports.default.fetch`. */
export default createScenarioApp()
