// 9. Durable engines: req/s of a route that queues one task, through the library's transport and by
// the engine's own client called by hand in the handler (the anchor a user would write), on each
// engine; how many jobs one round trip carries; and worker throughput against a bare worker.
// `node bench/engines.mjs [bullmq] [pg-boss] [deno-kv]` runs some engines only.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Queue } from 'bullmq'
import { build } from 'esbuild'
import { Redis } from 'ioredis'
import pg from 'pg'
import { nodeForPgBoss } from '../scripts/node-22.mjs'
import { findPostgresBin, hasPostgres, POSTGRES_INSTALL, startPostgres } from '../scripts/postgres.mjs'
import { closeAgents, getJson, loadGenerator, sleep } from './lib/load.mjs'
import { envNumber, isMain } from './lib/main.mjs'
import { benchDir, cacheDir, root } from './lib/paths.mjs'
import { binaries, killAll, startServer } from './lib/proc.mjs'
import { hasRedis, redisVersion, startRedis } from './lib/redis.mjs'
import { environment, runAlone } from './lib/report.mjs'
import { fmt, median, noiseJudgedTarget, rotate, workerRow } from './lib/stats.mjs'

/**
 * Bundles a server of bench/servers/engines: the library from src/, packages from node_modules (for
 * Node), or everything in one file (for Deno, with `whole`).
 */
const bundle = async (name, { whole = false } = {}) => {
  const outfile = path.join(cacheDir, `engines-${name}.mjs`)
  await build({
    entryPoints: [path.join(benchDir, 'servers/engines', `${name}.mjs`)],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'es2022',
    packages: whole ? undefined : 'external',
    logLevel: 'error',
  })
  return outfile
}

const packageVersion = (name) => {
  try {
    return JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version
  } catch {
    return 'n/a'
  }
}

/** `15.18` from `postgres --version` in the folder startPostgres() uses. */
const postgresVersion = () => {
  try {
    const out = execFileSync(path.join(findPostgresBin(), 'postgres'), ['--version'], { encoding: 'utf8' })
    return /\(PostgreSQL\) (\S+)/.exec(out)?.[1] ?? out.trim()
  } catch {
    return 'n/a'
  }
}

/** The pg-boss worker throughput's work() options, the same for pgBossWorker() and the bare work(). */
const PG_BOSS_WORK = {
  batchSize: envNumber('BENCH_PGBOSS_BATCH', 50),
  burstWhenBatchFull: true,
  pollingIntervalSeconds: 0.5,
}

/**
 * Each engine: how to start its store and its web processes (`serve(variant, { runtimeArgs })`, the
 * runtime's flags before the script, such as `--cpu-prof`), and how many jobs a slot left queued.
 * `variants`: [id, label, server variant]; `hand` is the anchor, `hand2` the same again (A/A control).
 */
export const ENGINES = {
  bullmq: {
    title: 'BullMQ (Redis), Node',
    variants: [
      ['bare', 'bare Hono, nothing queued', 'bare'],
      ['hand', 'handler awaits `queue.add()` itself', 'hand'],
      ['hand2', 'the same again (A/A control)', 'hand'],
      ['ours', '`bullmqQueue()`, before the response (addBulk shared)', 'ours'],
      ['ours-single', '`bullmqQueue()` on a queue without addBulk', 'ours-single'],
    ],
    async start() {
      if (!hasRedis()) throw new Error('redis-server is not installed: `apt-get install -y redis-server`')
      const redis = await startRedis()
      const client = new Redis({ path: redis.socket, maxRetriesPerRequest: null })
      const queue = new Queue('bench-engines', { connection: client })
      const script = await bundle('bullmq-web')
      return {
        about: `redis-server ${redisVersion()} on a unix socket (no persistence), BullMQ ${environment().versions.bullmq}`,
        serve: (variant, { runtimeArgs = [] } = {}) =>
          startServer(`engines:bullmq:${variant}`, binaries.node, [...runtimeArgs, script, variant], {
            env: { REDIS_SOCKET: redis.socket, QUEUE: queue.name },
          }),
        queued: () => queue.getWaitingCount(),
        clear: () => queue.obliterate({ force: true }),
        async stop() {
          await queue.close().catch(() => {})
          client.disconnect()
          redis.stop()
        },
      }
    },
  },
  'pg-boss': {
    title: 'pg-boss (PostgreSQL), Node 22',
    variants: [
      ['bare', 'bare Hono, nothing queued', 'bare'],
      ['hand', 'handler awaits `boss.send()` itself', 'hand'],
      ['hand2', 'the same again (A/A control)', 'hand'],
      ['ours', '`pgBossQueue()`, before the response (inserts shared)', 'ours'],
    ],
    async start() {
      if (!hasPostgres()) throw new Error(POSTGRES_INSTALL)
      const node = nodeForPgBoss()
      const nodeVersion = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim().slice(1)
      const [script, workerScript] = await Promise.all([bundle('pg-boss-web'), bundle('pg-boss-worker')])
      const postgres = startPostgres()
      const client = new pg.Client({ host: postgres.host, port: postgres.port, user: postgres.user, database: postgres.database })
      await client.connect()
      const queue = 'bench-engines'
      return {
        about: `PostgreSQL ${postgresVersion()} on a unix socket (fsync and synchronous_commit off), pg-boss ${packageVersion('pg-boss')} under Node ${nodeVersion}`,
        serve: (variant, { runtimeArgs = [] } = {}) =>
          startServer(`engines:pg-boss:${variant}`, node, [...runtimeArgs, script, variant], {
            env: { PG_HOST: postgres.host, QUEUE: queue },
          }),
        queued: async () => (await client.query('SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1', [queue])).rows[0].n,
        clear: () => client.query('DELETE FROM pgboss.job WHERE name = $1', [queue]),
        // The worker part gets a PostgreSQL of its own: on the web part's, after its hundred thousand inserts and deletes,
        // every worker ran at a tenth of its speed in some runs (about 500 jobs/s against 4,000-5,000 on a fresh one).
        async extra(options) {
          await client.end().catch(() => {})
          postgres.stop()
          return pgBossWorkers({ ...options, node, script: workerScript })
        },
        async stop() {
          await client.end().catch(() => {})
          postgres.stop()
        },
      }
    },
  },
  'deno-kv': {
    title: 'Deno KV (SQLite), Deno',
    // The transport writes more than `kv.enqueue()`: a second target holds it to the same commit written by hand.
    sameWrite: 'hand-atomic',
    variants: [
      ['bare', 'bare Hono, nothing queued', 'bare'],
      ['hand', 'handler awaits `kv.enqueue()` itself', 'hand'],
      ['hand2', 'the same again (A/A control)', 'hand'],
      ['hand-atomic', 'atomic commit by hand: handler awaits the transport’s commit (marker check + set, enqueue)', 'hand-atomic'],
      ['ours', '`denoKvQueue()`, before the response (atomic commits shared)', 'ours'],
    ],
    async start() {
      if (!binaries.deno) throw new Error('the deno binary is not in node_modules (the npm package `deno`): `npm install`')
      // Deno's local KV is a SQLite file; its queued messages are rows of its `queue` table, read with node:sqlite (Node 22).
      const node = nodeForPgBoss()
      const script = await bundle('deno-kv-web', { whole: true })
      const count = (server) =>
        Number(
          execFileSync(
            node,
            [
              '--no-warnings',
              '-e',
              `const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync(process.argv[1], { readOnly: true }); console.log(db.prepare('SELECT count(*) AS n FROM queue').get().n); db.close()`,
              server.kvPath,
            ],
            { encoding: 'utf8' },
          ),
        )
      const dirs = new Set()
      const baseline = new Map()
      return {
        about: `Deno ${environment().versions.deno} (\`--unstable-kv\`), its local KV store: a fresh SQLite file per web process, messages counted in its \`queue\` table (no listener runs, so none leaves it)`,
        async serve(variant, { runtimeArgs = [] } = {}) {
          const dir = mkdtempSync(path.join(os.tmpdir(), 'hbt-bench-kv-'))
          dirs.add(dir)
          const kvPath = path.join(dir, 'kv.sqlite3')
          const args = ['run', '--allow-all', '--unstable-kv', '--no-config', ...runtimeArgs, script, variant]
          const server = await startServer(`engines:deno-kv:${variant}`, binaries.deno, args, { env: { KV_PATH: kvPath } })
          return {
            ...server,
            kvPath,
            async stop(signal) {
              await server.stop(signal)
              rmSync(dir, { recursive: true, force: true })
              dirs.delete(dir)
            },
          }
        },
        queued: (server) => count(server) - (baseline.get(server.kvPath) ?? 0),
        clear: (server) => void baseline.set(server.kvPath, count(server)),
        stop() {
          for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
        },
      }
    },
  },
}

/**
 * pg-boss worker throughput: `jobs` no-op jobs pre-filled (what pgBossQueue() inserts), one worker process
 * per round, pgBossWorker() against a bare `boss.work()` running the same function with the same work()
 * options, and a second bare one as the A/A control; rotating rounds.
 */
const pgBossWorkers = async ({ node, script, jobs, rounds }) => {
  const postgres = startPostgres()
  const client = new pg.Client({ host: postgres.host, port: postgres.port, user: postgres.user, database: postgres.database })
  try {
    await client.connect()
    return await measureWorkers({ node, postgres, client, script, jobs, rounds })
  } finally {
    await client.end().catch(() => {})
    postgres.stop()
  }
}

const measureWorkers = async ({ node, postgres, client, script, jobs, rounds }) => {
  const queue = 'bench-work'
  const resultFile = path.join(cacheDir, 'engines-pg-boss-worker.json')
  const env = { PG_HOST: postgres.host, QUEUE: queue, TOTAL: String(jobs), WORK: JSON.stringify(PG_BOSS_WORK), RESULT_FILE: resultFile }
  const WORKERS = ['ours', 'bare', 'bare2', 'bare-results']
  const throughput = Object.fromEntries(WORKERS.map((w) => [w, []]))
  const cpuPerJob = Object.fromEntries(WORKERS.map((w) => [w, []]))
  const workerRatios = []
  const cpuRatios = []
  const aaRatios = []
  const resultsRatios = []
  let filled = false
  for (let round = 0; round < rounds; round++) {
    const rate = {}
    const cpu = {}
    for (const variant of rotate(WORKERS, round)) {
      // The first filler creates pg-boss's schema; until then there is nothing to delete.
      if (filled) await client.query('DELETE FROM pgboss.job WHERE name = $1', [queue])
      const filler = await startServer('engines:pg-boss:fill', node, [script, 'fill'], { env, timeout: 120_000 })
      filled = true
      await filler.stop('SIGTERM')
      rmSync(resultFile, { force: true })
      const worker = await startServer(`engines:pg-boss-worker:${variant}`, node, [script, variant], { env })
      const deadline = performance.now() + 180_000
      while (!existsSync(resultFile) && performance.now() < deadline) await sleep(50)
      await sleep(20) // the file is written in one call; let it land
      await worker.stop('SIGTERM')
      if (!existsSync(resultFile)) throw new Error(`pg-boss worker ${variant}: the ${jobs} jobs did not complete within 180 s`)
      const { first, at, cpu: micros } = JSON.parse(readFileSync(resultFile, 'utf8'))
      rate[variant] = (jobs / (at - first)) * 1000
      cpu[variant] = micros / jobs
      throughput[variant].push(rate[variant])
      cpuPerJob[variant].push(cpu[variant])
    }
    workerRatios.push(rate.ours / rate.bare)
    aaRatios.push(rate.bare2 / rate.bare)
    resultsRatios.push(rate['bare-results'] / rate.bare)
    cpuRatios.push(cpu.ours / cpu.bare)
    console.error(
      `[engines] pg-boss worker round ${round + 1}/${rounds}: ${WORKERS.map((v) => `${v} ${fmt.int(rate[v])} jobs/s, ${cpu[v].toFixed(0)} µs CPU/job`).join('; ')}`,
    )
  }
  await client.query('DELETE FROM pgboss.job WHERE name = $1', [queue])
  const noise = Math.abs(1 - median(aaRatios))
  const row = workerRow(throughput, cpuPerJob)
  const work = Object.entries(PG_BOSS_WORK)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')
  return {
    tables: [
      {
        caption: `pg-boss worker throughput: ${fmt.int(jobs)} no-op jobs pre-filled (the jobs \`pgBossQueue()\` inserts), one worker process per round (Node 22, \`supervise\` and \`schedule\` off) on a PostgreSQL cluster of its own (not the web part's), work() options ${work} for every worker; from the first job's start to the moment Postgres had the last one completed, and the worker process's CPU time over that span per job; ${rounds} rounds in rotating order, with a second bare work() as the A/A control:`,
        headers: ['Worker', 'jobs/s (median)', 'rounds', 'CPU/job (median)', 'jobs/s ratio to bare', 'CPU/job ratio to bare'],
        rows: [
          ['pgBossWorker() running the task by name', ...row('ours', workerRatios, cpuRatios)],
          ['bare `boss.work()` calling the same function', ...row('bare')],
          [
            'bare `boss.work()` again (A/A control)',
            ...row(
              'bare2',
              aaRatios,
              cpuPerJob.bare2.map((c, i) => c / cpuPerJob.bare[i]),
            ),
          ],
          [
            'bare `boss.work()` with `perJobResults` (what pgBossWorker() asks of pg-boss)',
            ...row(
              'bare-results',
              resultsRatios,
              cpuPerJob['bare-results'].map((c, i) => c / cpuPerJob.bare[i]),
            ),
          ],
        ],
      },
    ],
    targets: [
      noiseJudgedTarget('pg-boss worker throughput, pgBossWorker() vs a bare work()', workerRatios, 0.9, noise),
      {
        what: 'pg-boss worker CPU per no-op job, pgBossWorker() vs a bare work()',
        wanted: '<= 1.11 (0.9x throughput when CPU-bound)',
        measured: `${fmt.ratio(median(cpuRatios))} [${fmt.range(cpuRatios)}]`,
        pass: median(cpuRatios) <= 1.11,
      },
    ],
    data: { throughput, cpuPerJob, workerRatios, cpuRatios, aaRatios, resultsRatios, work: PG_BOSS_WORK },
  }
}

/** What the intro says of each engine's variants. */
const ENGINE_NOTES = {
  bullmq: `BullMQ: \`queue.add()\` with the data and options \`bullmqQueue()\` sends (\`jobId\` the task's id, \`attempts: 1\`, \`removeOnComplete\`); web processes on Node ${process.versions.node}.`,
  'pg-boss': [
    'pg-boss: `boss.send()` with the job `pgBossQueue()` inserts (the task message as data, its id as the job id, `retryLimit: 1`, 1 s doubling backoff up to an',
    'hour, `heartbeatSeconds: 30`) on the queue as the library creates it; `pgBossQueue()` itself calls `boss.insert()`. Its web processes run under Node 22',
    '(pg-boss 12 needs 22.12), with `new PgBoss()`’s defaults; jobs are counted and deleted in `pgboss.job` with `pg`. The worker table runs Node 22 processes too.',
  ].join('\n'),
  'deno-kv': [
    'Deno KV: the anchor `kv.enqueue()` sends the value and options `denoKvQueue()` enqueues (the message with its `backoffSchedule`, its dead-letter key)',
    'but not the per-id marker the transport checks and sets in the same atomic commit so that a repeated send is dropped; the row "atomic commit',
    'by hand" writes exactly the transport’s commit in the handler. The queue is not emptied: each process has its own KV file and a slot’s jobs are',
    'the growth of its `queue` table (read with node:sqlite). CPU time is `process.cpuUsage()` of node:process, which Deno provides.',
  ].join('\n'),
}

/** The transport's req/s against the hand-written call that writes what it writes (`engine.sameWrite`). */
const sameWriteTarget = (engine, results, noise) => {
  const ratios = results.map((r) => r.ours.rps / r[engine.sameWrite].rps)
  const label = engine.variants.find(([id]) => id === engine.sameWrite)[1].split(':')[0]
  return noiseJudgedTarget(`${engine.title}: the transport vs the same write by hand (${label})`, ratios, 1, noise, ' req/s')
}

/** Runs one engine's variants side by side in rotating rounds; returns its section's rows and targets. */
const measureEngine = async (id, engine, { rounds, duration, connections, generator, jobs, workerRounds }) => {
  const store = await engine.start()
  const ids = engine.variants.map(([variant]) => variant)
  let servers = {}
  try {
    const results = []
    for (let round = 0; round < rounds; round++) {
      // Fresh processes every round, as in overhead.mjs: two identical processes can differ by 10-20% for their whole lives.
      servers = {}
      for (const [variant, , serverVariant] of engine.variants) servers[variant] = await store.serve(serverVariant)
      for (const variant of ids) await generator.run({ url: `${servers[variant].url}/`, connections, duration: 1 }) // warm-up
      for (const variant of ids) await store.clear(servers[variant])
      const measured = {}
      for (const variant of rotate(ids, round)) {
        const before = await getJson(`${servers[variant].url}/__stats`)
        const load = await generator.run({ url: `${servers[variant].url}/`, connections, duration })
        if (load.errors) throw new Error(`${id} ${variant}: ${load.errors} errors under load`)
        const after = await getJson(`${servers[variant].url}/__stats`)
        measured[variant] = {
          ...load,
          trips: after.trips - before.trips,
          jobs: after.jobs - before.jobs,
          cpuPerRequest: (after.cpu - before.cpu) / load.requests,
          queued: await store.queued(servers[variant]),
        }
        await store.clear(servers[variant])
        await sleep(200)
      }
      await Promise.all(Object.values(servers).map((s) => s.stop()))
      results.push(measured)
      console.error(
        `[engines] ${id} round ${round + 1}/${rounds}: ${ids.map((v) => `${v} ${fmt.int(measured[v].rps)}/s ${measured[v].cpuPerRequest.toFixed(0)} µs`).join(', ')}`,
      )
    }
    const ratios = (variant) => results.map((r) => r[variant].rps / r.hand.rps)
    const cpuRatios = (variant) => results.map((r) => r[variant].cpuPerRequest / r.hand.cpuPerRequest)
    const noise = Math.abs(1 - median(ratios('hand2')))
    const perTrip = (variant) => {
      const trips = results.reduce((sum, r) => sum + r[variant].trips, 0)
      return trips ? results.reduce((sum, r) => sum + r[variant].jobs, 0) / trips : undefined
    }
    const extra = store.extra ? await store.extra({ jobs, rounds: workerRounds }) : { tables: [], targets: [] }
    const lost = results.flatMap((r) =>
      ids.filter((v) => v !== 'bare').flatMap((v) => (r[v].queued < r[v].requests ? [`${v} ${r[v].queued}/${r[v].requests}`] : [])),
    )
    return {
      about: store.about,
      tables: [
        {
          caption: `${engine.title}: requests per second and the web process's CPU time per request (medians of ${rounds} rounds), their ratios to the hand-written call [min-max], and the jobs one round trip to the queue carried on average:`,
          headers: ['Variant', 'req/s', 'p50', 'p99', 'CPU/req', 'req/s ratio to hand-written', 'CPU/req ratio', 'jobs per round trip'],
          rows: engine.variants.map(([variant, label]) => [
            label,
            fmt.int(median(results.map((r) => r[variant].rps))),
            fmt.ms(median(results.map((r) => r[variant].p50))),
            fmt.ms(median(results.map((r) => r[variant].p99))),
            `${median(results.map((r) => r[variant].cpuPerRequest)).toFixed(0)} µs`,
            variant === 'hand' ? '1' : `${fmt.ratio(median(ratios(variant)))} [${fmt.range(ratios(variant))}]`,
            variant === 'hand' ? '1' : `${fmt.ratio(median(cpuRatios(variant)))} [${fmt.range(cpuRatios(variant))}]`,
            perTrip(variant) === undefined ? '-' : perTrip(variant).toFixed(2),
          ]),
        },
        ...extra.tables,
      ],
      targets: [
        noiseJudgedTarget(
          `${engine.title}: the transport, before the response, vs the hand-written call in the handler`,
          ratios('ours'),
          1,
          noise,
          ' req/s',
        ),
        ...(engine.sameWrite ? [sameWriteTarget(engine, results, noise)] : []),
        {
          what: `${engine.title}: web CPU per request, the transport vs the hand-written call`,
          wanted: '<= 1.00',
          measured: `${fmt.ratio(median(cpuRatios('ours')))} [${fmt.range(cpuRatios('ours'))}]`,
          pass: median(cpuRatios('ours')) <= 1,
        },
        {
          what: `${engine.title}: every request answered had its job queued`,
          wanted: 'jobs >= requests',
          measured: lost.length ? lost.join(', ') : 'all slots',
          pass: lost.length === 0,
        },
        ...extra.targets,
      ],
      data: extra.data ? { web: results, workers: extra.data } : results,
    }
  } finally {
    closeAgents()
    await Promise.all(Object.values(servers).map((s) => s.stop()))
    await store.stop()
  }
}

export const engines = async ({
  only = process.argv.slice(2).filter((arg) => arg in ENGINES),
  rounds = envNumber('BENCH_ENGINES_ROUNDS', 4),
  duration = envNumber('BENCH_ENGINES_DURATION', 3),
  connections = envNumber('BENCH_CONNECTIONS', 50),
  jobs = envNumber('BENCH_ENGINES_JOBS', 5_000),
  workerRounds = envNumber('BENCH_ENGINES_WORKER_ROUNDS', 4),
} = {}) => {
  const env = environment()
  const started = performance.now()
  const generator = loadGenerator()
  const measured = {}
  for (const [id, engine] of Object.entries(ENGINES)) {
    if (only.length && !only.includes(id)) continue
    measured[id] = await measureEngine(id, engine, { rounds, duration, connections, generator, jobs, workerRounds })
  }
  const sections = Object.values(measured)
  return {
    id: 'engines',
    title: '9. Durable engines: the send against the hand-written call',
    env,
    seconds: (performance.now() - started) / 1000,
    intro: [
      `Load generator: **${generator.name}** (${connections} connections, ${duration} s per variant per round after a 1 s warm-up, ${rounds} rounds in rotating order).`,
      'Every variant is its own web process, started afresh each round; `GET /` queues one no-op task and answers `{"hello":"world"}`. The anchor is the same route',
      'awaiting the engine’s own client in the handler, with the data and options the transport would send. No worker runs; after each slot the',
      'jobs it left queued are counted against the requests answered, and the queue is emptied. "Jobs per round trip" is the jobs written over the',
      `calls to the store that wrote them (counted in the web process). Stores: ${sections.map((s) => s.about).join('; ')}.`,
      ...Object.keys(measured).map((id) => ENGINE_NOTES[id]),
    ].join('\n'),
    tables: sections.flatMap((s) => s.tables),
    targets: sections.flatMap((s) => s.targets),
    data: Object.fromEntries(Object.entries(measured).map(([id, s]) => [id, s.data])),
  }
}

if (isMain(import.meta.url)) runAlone(engines).finally(killAll)
