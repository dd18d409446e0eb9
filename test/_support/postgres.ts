/**
 * A real PostgreSQL for the pg-boss tests (scripts/postgres.mjs): a new cluster in a temporary
 * directory on a unix socket, stopped and deleted afterwards. Outside CI, a machine without
 * PostgreSQL skips these tests and says how to install it; under CI=true they fail instead.
 */
import { afterAll, beforeAll, describe } from 'vitest'
import { hasPostgres, POSTGRES_INSTALL, type PostgresServer, startPostgres } from '../../scripts/postgres.mjs'

export type { PostgresServer }

/**
 * `describe()` with a fresh PostgreSQL for the block: `postgres()` returns it inside the tests.
 * Skipped with a message where PostgreSQL is missing, unless CI=true, where that is a failure.
 */
export const describeWithPostgres = (name: string, body: (postgres: () => PostgresServer) => void): void => {
  if (!hasPostgres()) {
    if (process.env.CI === 'true') {
      describe(name, () => {
        beforeAll(() => {
          throw new Error(`${POSTGRES_INSTALL}; CI must install it (.ci/run does)`)
        })
        body(() => {
          throw new Error(POSTGRES_INSTALL)
        })
      })
      return
    }
    console.warn(`[pg-boss tests] skipped: ${POSTGRES_INSTALL}`)
    describe.skip(name, () => body(() => undefined as never))
    return
  }
  describe(name, () => {
    let server: PostgresServer | undefined
    beforeAll(() => {
      server = startPostgres()
    })
    afterAll(() => {
      server?.stop()
    })
    body(() => {
      if (!server) throw new Error('PostgreSQL has not started')
      return server
    })
  })
}
