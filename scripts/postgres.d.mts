/** How to get PostgreSQL where it is missing. */
export declare const POSTGRES_INSTALL: string
/** The folder with initdb and pg_ctl, or `undefined` if there is none. */
export declare const findPostgresBin: () => string | undefined
/** Whether a PostgreSQL server can be started here. */
export declare const hasPostgres: () => boolean
/** A throwaway PostgreSQL cluster on a unix socket. */
export interface PostgresServer {
  /** The socket's folder: what `pg` and pg-boss take as `host`. */
  readonly host: string
  readonly port: number
  readonly user: string
  readonly database: string
  /** A connection string for the same. */
  readonly url: string
  readonly dir: string
  stop(): void
}
/** Starts a new PostgreSQL cluster in a temporary directory. */
export declare const startPostgres: () => PostgresServer
