import { PgBoss } from 'pg-boss'

/** The queue both processes use. */
export const QUEUE = 'tasks'

/**
 * A started pg-boss on `DATABASE_URL` (`postgres://user:password@host:5432/database`; a unix
 * socket as `postgres://postgres@/postgres?host=/var/run/postgresql`). pg-boss creates its schema
 * (`pgboss`) on the first start.
 */
export const startBoss = async (env: Record<string, string | undefined>): Promise<PgBoss> => {
  const boss = new PgBoss(env.DATABASE_URL ?? 'postgres://postgres@localhost:5432/postgres')
  // Without a listener, an 'error' event (the database restarting, say) would crash the process.
  boss.on('error', (error) => console.error('pg-boss:', error))
  return boss.start()
}
