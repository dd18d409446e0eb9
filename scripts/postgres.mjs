// A throwaway PostgreSQL server for the pg-boss tests, example and benchmark: a new cluster in a
// temporary directory (initdb), started with pg_ctl on a unix socket there and no TCP port, no
// fsync, stopped and deleted by stop(). Debian's `postgresql` package provides the binaries in
// /usr/lib/postgresql/<major>/bin, which is not on the PATH; PG_BIN names another folder.
// PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user.
//
// `node scripts/postgres.mjs` starts one and prints its connection settings, for trying things by hand.
import { execFileSync, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** How to get PostgreSQL where it is missing. */
export const POSTGRES_INSTALL = 'PostgreSQL is not installed: `apt-get install -y postgresql` (Debian/Ubuntu) or `brew install postgresql`'

/** The folder with initdb and pg_ctl, or `undefined` if there is none. */
export const findPostgresBin = () => {
  if (process.env.PG_BIN) return existsSync(join(process.env.PG_BIN, 'initdb')) ? process.env.PG_BIN : undefined
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim()
  if (onPath) return join(onPath, '..')
  const debian = '/usr/lib/postgresql'
  if (!existsSync(debian)) return undefined
  const majors = readdirSync(debian).filter((name) => existsSync(join(debian, name, 'bin/initdb')))
  majors.sort((a, b) => Number(b) - Number(a))
  return majors.length > 0 ? join(debian, majors[0], 'bin') : undefined
}

/** Whether a PostgreSQL server can be started here. */
export const hasPostgres = () => findPostgresBin() !== undefined

/**
 * Starts a new PostgreSQL cluster in a temporary directory.
 * @returns `{ host, port, user, database, url, dir, stop() }`: `host` is the socket's folder
 * (what `pg` and pg-boss take as `host`), `url` a connection string for the same.
 */
export const startPostgres = () => {
  const bin = findPostgresBin()
  if (!bin) throw new Error(POSTGRES_INSTALL)
  const dir = mkdtempSync(join(tmpdir(), 'hbt-postgres-'))
  const asRoot = process.getuid?.() === 0
  const run = (command, args) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, command), ...args]] : [join(bin, command), args]
    try {
      execFileSync(file, argv, { stdio: 'pipe' })
    } catch (error) {
      throw new Error(`${command} failed: ${error.stderr?.toString() || error.message}`)
    }
  }
  if (asRoot)
    chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()))
  const data = join(dir, 'data')
  const port = 5432
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync'])
  const settings = `-c listen_addresses='' -k ${dir} -p ${port} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`
  run('pg_ctl', ['-D', data, '-o', settings, '-l', join(dir, 'postgres.log'), '-w', '-t', '30', 'start'])
  let stopped = false
  return {
    host: dir,
    port,
    user: 'postgres',
    database: 'postgres',
    url: `postgres://postgres@/postgres?host=${encodeURIComponent(dir)}&port=${port}`,
    dir,
    stop() {
      if (stopped) return
      stopped = true
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
      } catch {
        // Already gone.
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = startPostgres()
  console.log(`PostgreSQL on ${server.url} (psql -h ${server.host} -U postgres); Ctrl-C stops and deletes it`)
  process.once('SIGINT', () => {
    server.stop()
    process.exit(0)
  })
  setInterval(() => {}, 1 << 30)
}
