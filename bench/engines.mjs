// 9. Durable engines: req/s of a route that queues one task, through the library's transport and by
// the engine's own client called by hand in the handler (the anchor a user would write), on each
// engine; how many jobs one round trip carries; and worker throughput against a bare worker.
// `node bench/engines.mjs [bullmq] [pg-boss] [deno-kv]` runs some engines only.
import path from 'node:path'
import { Queue } from 'bullmq'
import { build } from 'esbuild'
import { Redis } from 'ioredis'
import { closeAgents, getJson, loadGenerator, sleep } from './lib/load.mjs'
import { envNumber, isMain } from './lib/main.mjs'
import { benchDir, cacheDir } from './lib/paths.mjs'
import { binaries, killAll, startServer } from './lib/proc.mjs'
import { hasRedis, redisVersion, startRedis } from './lib/redis.mjs'
import { environment, runAlone } from './lib/report.mjs'
import { fmt, median, rotate } from './lib/stats.mjs'

/** Bundles a server of bench/servers/engines (library from src/, packages from node_modules). */
const bundle = async (name, platform = 'node') => {
  const outfile = path.join(cacheDir, `engines-${name}.mjs`)
  await build({
    entryPoints: [path.join(benchDir, 'servers/engines', `${name}.mjs`)],
    outfile,
    bundle: true,
    format: 'esm',
    platform,
    packages: platform === 'node' ? 'external' : undefined,
    logLevel: 'error',
  })
  return outfile
}

/**
 * Each engine: how to start its store and its web processes, and how many jobs a slot left queued.
 * `variants`: [id, label, server variant]; `hand` is the anchor, `hand2` the same again (A/A control).
 */
const ENGINES = {
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
        serve: (variant) =>
          startServer(`engines:bullmq:${variant}`, binaries.node, [script, variant], {
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
}

/** Runs one engine's variants side by side in rotating rounds; returns its section's rows and targets. */
const measureEngine = async (id, engine, { rounds, duration, connections, generator }) => {
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
      await store.clear()
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
          queued: await store.queued(),
        }
        await store.clear()
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
    const oursRatio = median(ratios('ours'))
    const pass = oursRatio + noise >= 1
    const missed = oursRatio + noise < 0.97
    const perTrip = (variant) => {
      const trips = results.reduce((sum, r) => sum + r[variant].trips, 0)
      return trips ? results.reduce((sum, r) => sum + r[variant].jobs, 0) / trips : undefined
    }
    const lost = results.flatMap((r) =>
      ids.filter((v) => v !== 'bare').flatMap((v) => (r[v].queued < r[v].requests ? [`${v} ${r[v].queued}/${r[v].requests}`] : [])),
    )
    return {
      about: store.about,
      table: {
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
      targets: [
        {
          what: `${engine.title}: the transport, before the response, vs the hand-written call in the handler`,
          wanted: '>= 1.00 req/s',
          measured: `${fmt.ratio(oursRatio)} [${fmt.range(ratios('ours'))}] (A/A noise ±${noise.toFixed(3)})`,
          pass,
          ...(pass || missed ? {} : { verdict: 'inconclusive' }),
        },
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
      ],
      data: results,
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
} = {}) => {
  const env = environment()
  const started = performance.now()
  const generator = loadGenerator()
  const measured = {}
  for (const [id, engine] of Object.entries(ENGINES)) {
    if (only.length && !only.includes(id)) continue
    measured[id] = await measureEngine(id, engine, { rounds, duration, connections, generator })
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
      'awaiting the engine’s own client in the handler, with the data and options the transport would send. No worker runs; the queue is',
      `emptied between slots, after counting its jobs against the requests answered. Stores: ${sections.map((s) => s.about).join('; ')}.`,
    ].join('\n'),
    tables: sections.map((s) => s.table),
    targets: sections.flatMap((s) => s.targets),
    data: Object.fromEntries(Object.entries(measured).map(([id, s]) => [id, s.data])),
  }
}

if (isMain(import.meta.url)) runAlone(engines).finally(killAll)
