// 7. Durable tasks on BullMQ (Redis), Node: req/s of a route with one durable task against bare
// Hono and the same task in-process; latency from the response to the job's start; and worker
// throughput of no-op jobs, bullmqWorker() against a bare BullMQ Worker running the same function.
import path from 'node:path'
import { Queue } from 'bullmq'
import { build } from 'esbuild'
import { Redis } from 'ioredis'
import { closeAgents, loadGenerator, sleep, timedGet } from './lib/load.mjs'
import { envNumber, isMain } from './lib/main.mjs'
import { benchDir, cacheDir } from './lib/paths.mjs'
import { binaries, killAll, startServer } from './lib/proc.mjs'
import { hasRedis, redisVersion, startRedis } from './lib/redis.mjs'
import { environment, runAlone } from './lib/report.mjs'
import { fmt, median, noiseJudgedTarget, percentile, rotate, workerRow } from './lib/stats.mjs'

const VARIANTS = [
  ['bare', 'bare Hono'],
  ['bare2', 'bare Hono again (A/A control)'],
  ['inprocess', 'one no-op task, in-process'],
  ['durable', 'one no-op durable task, queued on BullMQ before the response'],
]

const bundle = async (name) => {
  const outfile = path.join(cacheDir, `${name}.mjs`)
  await build({
    entryPoints: [path.join(benchDir, 'servers', `${name}.mjs`)],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    packages: 'external',
    logLevel: 'error',
  })
  return outfile
}

const now = () => performance.timeOrigin + performance.now()

const summary = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return { p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), p99: percentile(sorted, 0.99), min: sorted[0], max: sorted.at(-1) }
}

export const bullmq = async ({
  rounds = envNumber('BENCH_BULLMQ_ROUNDS', 4),
  duration = envNumber('BENCH_BULLMQ_DURATION', 3),
  connections = envNumber('BENCH_CONNECTIONS', 50),
  marks = envNumber('BENCH_BULLMQ_MARKS', 200),
  jobs = envNumber('BENCH_BULLMQ_JOBS', 20_000),
  workerRounds = envNumber('BENCH_BULLMQ_WORKER_ROUNDS', 5),
  concurrency = envNumber('BENCH_BULLMQ_CONCURRENCY', 20),
} = {}) => {
  if (!hasRedis()) throw new Error('redis-server is not installed: `apt-get install -y redis-server` (or `brew install redis`)')
  const env = environment()
  const started = performance.now()
  const generator = loadGenerator()
  const redis = await startRedis()
  const client = new Redis({ path: redis.socket, maxRetriesPerRequest: null })
  const webQueue = new Queue('bench-web', { connection: client })
  const workQueue = new Queue('bench-work', { connection: client })
  const [webScript, workerScript] = await Promise.all([bundle('bullmq-web'), bundle('bullmq-worker')])
  const processEnv = { REDIS_SOCKET: redis.socket }
  const servers = {}
  const startWorker = (variant, queue, extra = {}) =>
    startServer(`bullmq-worker:${variant}`, binaries.node, [workerScript, variant], {
      env: { ...processEnv, QUEUE: queue, CONCURRENCY: String(concurrency), ...extra },
    })
  try {
    // 1. req/s, the variants side by side in rotating rounds.
    for (const [id] of VARIANTS) {
      servers[id] = await startServer(`bullmq-web:${id}`, binaries.node, [webScript, id === 'bare2' ? 'bare' : id], {
        env: { ...processEnv, QUEUE: 'bench-web' },
      })
    }
    const ids = VARIANTS.map(([id]) => id)
    for (const id of ids) await generator.run({ url: `${servers[id].url}/`, connections, duration: 2 }) // warm-up
    await webQueue.obliterate({ force: true })
    const results = []
    for (let round = 0; round < rounds; round++) {
      const measured = {}
      for (const id of rotate(ids, round)) {
        const load = await generator.run({ url: `${servers[id].url}/`, connections, duration })
        if (load.errors) throw new Error(`${id}: ${load.errors} errors under load`)
        measured[id] = load
        if (id === 'durable') {
          const queued = await webQueue.getWaitingCount()
          measured[id].queued = queued
          await webQueue.obliterate({ force: true })
        }
        await sleep(200)
      }
      results.push(measured)
      console.error(`[bullmq] round ${round + 1}/${rounds}: ${ids.map((id) => `${id} ${fmt.int(measured[id].rps)}/s`).join(', ')}`)
    }
    const ratios = (id) => results.map((r) => r[id].rps / r.bare.rps)
    const durableVsInProcess = results.map((r) => r.durable.rps / r.inprocess.rps)
    const aaNoise = Math.abs(1 - median(ratios('bare2')))

    // 2. From the response to the job's start, one request at a time, a worker waiting: ours, then a bare Worker.
    const done = { ours: new Map(), bare: new Map(), inprocess: new Map() }
    const startedAt = { ours: new Map(), bare: new Map(), inprocess: new Map() }
    for (const variant of ['ours', 'bare']) {
      const latencyWorker = await startWorker(variant, 'bench-web')
      await client.del('bench:marks')
      for (let n = 0; n < marks + 20; n++) {
        await timedGet(`${servers.durable.url}/mark?n=${n}`)
        done[variant].set(n, now())
        if (variant === 'ours') {
          await timedGet(`${servers.inprocess.url}/mark?n=${n}`)
          done.inprocess.set(n, now())
        }
      }
      for (let i = 0; i < 100 && (await client.llen('bench:marks')) < marks + 20; i++) await sleep(50)
      for (const line of await client.lrange('bench:marks', 0, -1)) {
        const [n, at] = line.split(' ').map(Number)
        startedAt[variant].set(n, at)
      }
      await latencyWorker.stop('SIGTERM')
    }
    for (const [n, at] of await (await fetch(`${servers.inprocess.url}/__marks`)).json()) startedAt.inprocess.set(n, at)
    const latency = {}
    for (const id of ['ours', 'bare', 'inprocess']) {
      // The first 20 are a warm-up.
      const values = [...done[id]].filter(([n]) => n >= 20 && startedAt[id].has(n)).map(([n, at]) => startedAt[id].get(n) - at)
      if (values.length !== marks) throw new Error(`${id}: ${values.length} of ${marks} marked tasks started`)
      latency[id] = summary(values)
    }
    await Promise.all(Object.values(servers).map((s) => s.stop()))

    // 3. Worker throughput: the queue pre-filled with no-op jobs, one worker process per round.
    const fill = async () => {
      for (let i = 0; i < jobs; i += 1000) {
        const batch = Array.from({ length: Math.min(1000, jobs - i) }, () => {
          const id = crypto.randomUUID()
          // What bullmqQueue() sends for a task without retries, completed jobs removed.
          return {
            name: 'noop',
            data: { task: 'noop', args: [], id, enqueuedAt: Date.now() },
            opts: { jobId: id, attempts: 1, removeOnComplete: true },
          }
        })
        await workQueue.addBulk(batch)
      }
    }
    const WORKERS = ['ours', 'bare', 'bare2']
    const throughput = { ours: [], bare: [], bare2: [] }
    const cpuPerJob = { ours: [], bare: [], bare2: [] }
    const workerRatios = []
    const cpuRatios = []
    const aaRatios = []
    for (let round = 0; round < workerRounds; round++) {
      const rate = {}
      const cpu = {}
      for (const variant of rotate(WORKERS, round)) {
        await workQueue.obliterate({ force: true })
        await client.del('bench:first', 'bench:end')
        await fill()
        const worker = await startWorker(variant, 'bench-work', { TOTAL: String(jobs) })
        const deadline = performance.now() + 180_000
        let end = await client.get('bench:end')
        while (!end && performance.now() < deadline) {
          await sleep(50)
          end = await client.get('bench:end')
        }
        const first = Number(await client.get('bench:first'))
        await worker.stop('SIGTERM')
        if (!end) throw new Error(`${variant}: the ${jobs} jobs did not complete within 180 s`)
        const { at, cpu: micros } = JSON.parse(end)
        rate[variant] = (jobs / (at - first)) * 1000
        cpu[variant] = micros / jobs
        throughput[variant].push(rate[variant])
        cpuPerJob[variant].push(cpu[variant])
      }
      workerRatios.push(rate.ours / rate.bare)
      aaRatios.push(rate.bare2 / rate.bare)
      cpuRatios.push(cpu.ours / cpu.bare)
      console.error(
        `[bullmq] worker round ${round + 1}/${workerRounds}: ${WORKERS.map((v) => `${v} ${fmt.int(rate[v])} jobs/s, ${cpu[v].toFixed(0)} µs CPU/job`).join('; ')}`,
      )
    }
    const workerNoise = Math.abs(1 - median(aaRatios))
    const row = workerRow(throughput, cpuPerJob)

    return {
      id: 'bullmq',
      title: '8. Durable tasks on BullMQ (Redis), Node',
      env,
      seconds: (performance.now() - started) / 1000,
      intro: [
        `A local redis-server ${redisVersion()} on a unix socket (no persistence), BullMQ ${env.versions.bullmq}, ioredis ${env.versions.ioredis}.`,
        `Load generator: **${generator.name}** (${connections} connections, ${duration} s per variant per round after a 2 s warm-up, ${rounds} rounds`,
        'in rotating order). Every variant is its own @hono/node-server process; `GET /` answers `{"hello":"world"}`. The durable',
        'variant adds one `defineTask()` task with `bullmqQueue()`: one Redis round trip before each response (no worker runs during',
        'this part; the queue is emptied between slots). Ratios are medians of the per-round ratios, measured in the same run.',
      ].join('\n'),
      tables: [
        {
          caption: 'Requests per second (medians of the rounds) and ratios to bare Hono [min-max]:',
          headers: ['Variant', 'req/s', 'p50', 'p99', 'req/s ratio to bare'],
          rows: VARIANTS.map(([id, label]) => [
            label,
            fmt.int(median(results.map((r) => r[id].rps))),
            fmt.ms(median(results.map((r) => r[id].p50))),
            fmt.ms(median(results.map((r) => r[id].p99))),
            id === 'bare' ? '1' : `${fmt.ratio(median(ratios(id)))} [${fmt.range(ratios(id))}]`,
          ]),
        },
        {
          caption: `From the response to the task's start, ${marks} requests one at a time (after 20 for warm-up), a worker waiting (concurrency ${concurrency}; bullmqWorker(), then a bare Worker, against the same web process). The task's start (in the worker process, or in the web process) minus the moment the client had read the whole response, on one machine's clock; negative means the task started before the client had the response:`,
          headers: ['Task', 'p50', 'p90', 'p99', 'min', 'max'],
          rows: [
            ['durable, bullmqWorker() in another process', ...['p50', 'p90', 'p99', 'min', 'max'].map((k) => fmt.ms(latency.ours[k]))],
            ['durable, bare BullMQ Worker in another process', ...['p50', 'p90', 'p99', 'min', 'max'].map((k) => fmt.ms(latency.bare[k]))],
            ['in-process, same web process', ...['p50', 'p90', 'p99', 'min', 'max'].map((k) => fmt.ms(latency.inprocess[k]))],
          ],
        },
        {
          caption: `Worker throughput: ${fmt.int(jobs)} no-op jobs pre-filled (the data and options \`bullmqQueue()\` sends), one worker process per round, concurrency ${concurrency}, from the first job's start to the last completion, and the worker process's CPU time over that span per job; ${workerRounds} rounds in rotating order, with a second bare Worker as the A/A control:`,
          headers: ['Worker', 'jobs/s (median)', 'rounds', 'CPU/job (median)', 'jobs/s ratio to bare', 'CPU/job ratio to bare'],
          rows: [
            ['bullmqWorker() running the task by name', ...row('ours', workerRatios, cpuRatios)],
            ['bare BullMQ Worker calling the same function', ...row('bare')],
            [
              'bare BullMQ Worker again (A/A control)',
              ...row(
                'bare2',
                aaRatios,
                cpuPerJob.bare2.map((c, i) => c / cpuPerJob.bare[i]),
              ),
            ],
          ],
        },
      ],
      targets: [
        {
          what: 'BullMQ: every durable request answered had its job in Redis',
          wanted: 'jobs >= requests',
          measured: results.map((r) => `${r.durable.queued}/${r.durable.requests}`).join(', '),
          pass: results.every((r) => r.durable.queued >= r.durable.requests),
        },
        noiseJudgedTarget('BullMQ worker throughput, bullmqWorker() vs a bare Worker', workerRatios, 0.9, workerNoise),
        {
          what: 'BullMQ worker CPU per no-op job, bullmqWorker() vs a bare Worker',
          wanted: '<= 1.11 (0.9x throughput when CPU-bound)',
          measured: `${fmt.ratio(median(cpuRatios))} [${fmt.range(cpuRatios)}]`,
          pass: median(cpuRatios) <= 1.11,
        },
      ],
      notes: [
        `req/s, the durable task vs the same task in-process: ${fmt.ratio(median(durableVsInProcess))} [${fmt.range(durableVsInProcess)}]; vs bare Hono: ${fmt.ratio(median(ratios('durable')))}. The A/A control's median ratio is ${fmt.ratio(median(ratios('bare2')))} (noise ±${aaNoise.toFixed(3)}).`,
        `Durable variant, per round, requests answered / jobs in Redis after the slot: ${results.map((r) => `${fmt.int(r.durable.requests)} / ${fmt.int(r.durable.queued)}`).join(', ')} (a request still in flight when the generator stops has its job queued but its response uncounted).`,
      ],
      data: { results, latency, throughput, cpuPerJob, workerRatios, cpuRatios, aaRatios, generator: generator.name },
    }
  } finally {
    closeAgents()
    await Promise.all(Object.values(servers).map((s) => s.stop()))
    await webQueue.close().catch(() => {})
    await workQueue.close().catch(() => {})
    client.disconnect()
    redis.stop()
  }
}

if (isMain(import.meta.url)) runAlone(bullmq).finally(killAll)
