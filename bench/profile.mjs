// Where the per-request cost of the middleware goes, on Node:
// - an in-process micro-benchmark (app.fetch with the env @hono/node-server passes, no sockets), so the
//   library's own CPU per request shows without HTTP noise;
// - node --cpu-prof of that micro-benchmark with one task per request, each sample charged to a library
//   function (Node internals it calls, such as timers or AbortController, count as library time);
// - the cost of the JavaScript primitives the library uses per task, on this Node;
// - node --cpu-prof of the real HTTP servers (the floor and one task), split by owner.
import { execFile } from 'node:child_process'
import { existsSync, readdirSync, rmSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { buildMicro } from './lib/build.mjs'
import { allocationsByFunction, analyseProfile, sourceMapOfBundle } from './lib/cpuprofile.mjs'
import { generator, load, sleep, waitForTasks } from './lib/load.mjs'
import { envNumber, isMain } from './lib/main.mjs'
import { benchDir, cacheDir, root } from './lib/paths.mjs'
import { killAll } from './lib/proc.mjs'
import { environment, runAlone } from './lib/report.mjs'
import { startNode } from './lib/servers.mjs'
import { fmt, median } from './lib/stats.mjs'

const run = promisify(execFile)
const MICRO_VARIANTS = ['bare', 'floor-bare', 'mounted', 'floor', 'one', 'three']
// What each micro variant is compared with: the floor that any async Hono middleware has.
const MICRO_BASE = { 'floor-bare': 'bare', mounted: 'floor-bare', floor: 'bare', one: 'floor', three: 'floor' }
// One no-op task with tracing on and off (bench/servers/tracing.mjs), against 'one' in the same rounds.
const TRACING_VARIANTS = [
  ['one-again', 'no tracing, a second app (A/A control)'],
  ['otel-noop', 'taskTracing(), no tracer provider registered'],
  ['otel', 'taskTracing() with an SDK tracer, spans recorded'],
  ['channel', 'a subscriber on the tracing channel'],
]
const OWNERS = ['library', 'hono', '@hono/node-server', 'benchmark app', 'node internals', '(garbage collector)', '(program)']

const jsonLines = (stdout) =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line))

const profileDir = (name) => {
  const dir = path.join(cacheDir, `prof-${name}`)
  rmSync(dir, { recursive: true, force: true })
  return dir
}

const profileFile = (dir) => {
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
  if (!file) throw new Error(`no .cpuprofile in ${dir}`)
  return path.join(dir, file)
}

/** µs per request of each micro variant, as medians of interleaved rounds. */
const micro = async (file, rounds, variants = MICRO_VARIANTS, clock = 'wall') => {
  const { stdout } = await run(process.execPath, [file, variants.join(','), String(rounds), '10000', clock], {
    cwd: root,
    maxBuffer: 1 << 24,
  })
  const lines = jsonLines(stdout)
  const counts = lines.pop()
  return { rounds: lines, counts }
}

const microProfile = async (file) => {
  const dir = profileDir('micro-one')
  await run(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, file, 'one', '3', '20000'], { cwd: root, maxBuffer: 1 << 24 })
  return profileFile(dir)
}

const httpProfile = async (variant, { duration, connections }) => {
  const dir = profileDir(`http-${variant}`)
  const server = await startNode(variant, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`], name: `node:${variant} (profiled)` })
  let run
  try {
    await load({ url: `${server.url}/`, connections, duration: 1 })
    await sleep(200)
    const from = Number(process.hrtime.bigint() / 1000n)
    run = await load({ url: `${server.url}/`, connections, duration })
    run.window = { from, to: Number(process.hrtime.bigint() / 1000n) }
    await waitForTasks(server)
  } finally {
    await server.stop('SIGTERM')
  }
  return { file: profileFile(dir), load: run }
}

/** Sampled allocations of a real server under load (bench/lib/alloc-sampler.mjs): bytes per request by function. */
const allocProfile = async (variant, { duration, connections, fileOfLine }) => {
  const out = path.join(cacheDir, `alloc-${variant}.json`)
  rmSync(out, { force: true })
  const sampler = path.join(benchDir, 'lib/alloc-sampler.mjs')
  const server = await startNode(variant, {
    nodeArgs: ['--import', sampler],
    name: `node:${variant} (allocations)`,
    env: { BENCH_ALLOC_OUT: out },
  })
  try {
    await load({ url: `${server.url}/`, connections, duration: 1 })
    await waitForTasks(server)
    process.kill(server.child.pid, 'SIGUSR2')
    await sleep(300)
    const { requests } = await load({ url: `${server.url}/`, connections, duration })
    await waitForTasks(server)
    process.kill(server.child.pid, 'SIGUSR2')
    for (let waited = 0; !existsSync(out); waited += 100) {
      if (waited > 30_000) throw new Error(`node:${variant}: no allocation profile after 30 s`)
      await sleep(100)
    }
    await sleep(500)
    return allocationsByFunction(out, requests, { fileOfLine })
  } finally {
    await server.stop('SIGTERM')
  }
}

const share = (part, whole) => `${((100 * part) / whole).toFixed(1)}%`

export const profile = async ({
  duration = envNumber('BENCH_PROFILE_DURATION', 4),
  connections = 50,
  rounds = envNumber('BENCH_MICRO_ROUNDS', 5),
} = {}) => {
  const env = environment()
  const started = performance.now()
  const microFile = await buildMicro()
  const fileOfLine = sourceMapOfBundle(path.join(cacheDir, 'lib.mjs'))

  const microRun = await micro(microFile, rounds)
  const tracingRounds = rounds + 4
  const tracingRun = await micro(microFile, tracingRounds, ['one', ...TRACING_VARIANTS.map(([id]) => id)], 'cpu')
  const microStats = analyseProfile(await microProfile(microFile), { fileOfLine })
  const { stdout } = await run(process.execPath, [path.join(benchDir, 'lib/primitives.mjs')], { cwd: root })
  const primitiveCosts = JSON.parse(stdout)
  const http = {}
  for (const variant of ['floor', 'one']) {
    const { file, load: run } = await httpProfile(variant, { duration, connections })
    http[variant] = { file, load: run, stats: analyseProfile(file, { fileOfLine, ...run.window }) }
  }
  const allocations = {}
  for (const variant of ['floor', 'one']) allocations[variant] = await allocProfile(variant, { duration, connections, fileOfLine })
  const allocated = (variant, name) => allocations[variant].get(name) ?? 0
  const allocTotal = (variant) => [...allocations[variant].values()].reduce((a, b) => a + b, 0)
  const allocRows = [...new Set([...allocations.floor.keys(), ...allocations.one.keys()])]
    .map((name) => [name, allocated('one', name) - allocated('floor', name)])
    .filter(([, extra]) => Math.abs(extra) >= 16)
    .sort((a, b) => b[1] - a[1])

  const us = (variant) => median(microRun.rounds.map((r) => r[variant] / 1000))
  const diff = (variant) => median(microRun.rounds.map((r) => (r[variant] - r[MICRO_BASE[variant]]) / 1000))
  const cpuUs = (variant) => median(tracingRun.rounds.map((r) => r[variant] / 1000))
  const toOne = (variant) => tracingRun.rounds.map((r) => r[variant] / r.one)
  const extraToOne = (variant) => median(tracingRun.rounds.map((r) => (r[variant] - r.one) / 1000))
  const libraryMs = microStats.categories.find(([c]) => c === 'library')?.[1] ?? 0
  const ownerMs = (stats, owner) => stats.categories.find(([c]) => c === owner)?.[1] ?? 0

  return {
    id: 'profile',
    title: 'Profile: where the time goes (Node)',
    env,
    seconds: (performance.now() - started) / 1000,
    intro: [
      'An in-process micro-benchmark calls `app.fetch()` with the env @hono/node-server passes (an `outgoing` that emits',
      "'finish'), 50 requests at a time, and waits for their tasks: no sockets, so the library's own CPU cost shows. Then",
      '`node --cpu-prof` of the same loop with one task per request: every sample is charged to the nearest library function',
      'on its stack, so the Node internals it calls (timers, AbortController, events) count as library time. The tracing',
      'variants (bench/servers/tracing.mjs) run in a second micro-benchmark, timed by CPU time; the SDK variant registers no',
      'context manager, which would slow every variant of the process alike.',
    ].join('\n'),
    tables: [
      {
        caption: `In-process cost per request (median of ${rounds} interleaved rounds of 10,000 requests, tasks included):`,
        headers: ['Variant', 'µs/request', 'extra', 'compared with'],
        rows: MICRO_VARIANTS.map((v) => [
          v,
          us(v).toFixed(2),
          MICRO_BASE[v] ? `${diff(v) >= 0 ? '+' : ''}${diff(v).toFixed(2)} µs` : '',
          MICRO_BASE[v] ?? '',
        ]),
      },
      {
        caption: `Tracing on and off, one no-op task per request: CPU time of the process per request (median of ${tracingRounds} interleaved rounds of 10,000 requests; ratios are medians of the per-round ratios to the same app without tracing):`,
        headers: ['Variant', 'CPU µs/request', 'extra', 'ratio to no tracing [min-max]'],
        rows: [
          ['no tracing', cpuUs('one').toFixed(2), '', ''],
          ...TRACING_VARIANTS.map(([id, label]) => [
            label,
            cpuUs(id).toFixed(2),
            `${extraToOne(id) >= 0 ? '+' : ''}${extraToOne(id).toFixed(2)} µs`,
            `${fmt.ratio(median(toOne(id)))} [${fmt.range(toOne(id))}]`,
          ]),
        ],
      },
      {
        caption: `One task per request, profiled: library time by function (${share(libraryMs, microStats.total)} of the busy CPU; GC ${share(
          ownerMs(microStats, '(garbage collector)'),
          microStats.total,
        )}):`,
        headers: ['Library function (source file)', 'share of library time'],
        rows: microStats.libraryFunctions.slice(0, 10).map(([fn, ms]) => [fn, share(ms, libraryMs)]),
      },
      {
        caption: 'The same library time by the function on the CPU, top 12:',
        headers: ['On the CPU', 'share of library time', `≈ µs per request (of ${us('one').toFixed(1)})`],
        rows: microStats.libraryLeaves
          .slice(0, 12)
          .map(([leaf, ms]) => [leaf, share(ms, libraryMs), ((us('one') * ms) / microStats.total).toFixed(2)]),
      },
      {
        caption: `What the primitives cost on Node ${process.versions.node} (ns per operation, median of 5 loops of 200,000):`,
        headers: ['Operation', 'ns'],
        rows: Object.entries(primitiveCosts).map(([name, ns]) => [name, fmt.int(ns)]),
      },
      {
        caption: `The real servers under \`node --cpu-prof\` (${generator}, ${connections} connections, ${duration} s): share of the busy samples by owner. The profiler slows everything, so compare the columns.`,
        headers: ['Owner', 'floor (setImmediate)', 'one no-op task'],
        rows: [
          ...OWNERS.map((o) => [
            o,
            share(ownerMs(http.floor.stats, o), http.floor.stats.total),
            share(ownerMs(http.one.stats, o), http.one.stats.total),
          ]),
          ['requests/s while profiled', fmt.int(http.floor.load.rps), fmt.int(http.one.load.rps)],
        ],
      },
      {
        caption: `Bytes allocated per request by the function that allocated them, the real servers under V8's sampling heap profiler (every 64 bytes on average, objects already collected included; ${generator}, ${connections} connections, ${duration} s): ${fmt.int(allocTotal('floor'))} B for the floor, ${fmt.int(allocTotal('one'))} B with one task. Rows that differ by 16 B or more:`,
        headers: ['Allocated in', 'floor', 'one no-op task', 'extra'],
        rows: allocRows.map(([name, extra]) => [
          name.length > 100 ? `${name.slice(0, 97)}...` : name,
          fmt.bytes(allocated('floor', name)),
          fmt.bytes(allocated('one', name)),
          `${extra >= 0 ? '+' : ''}${fmt.bytes(extra)}`,
        ]),
      },
    ],
    notes: [
      `Tasks in the micro-benchmark: ${microRun.counts.completed} completed of ${microRun.counts.added} added; with tracing ${tracingRun.counts.completed} of ${tracingRun.counts.added}. ` +
        `"≈ µs per request" is the one-task variant's µs/request times the sample's share of the profile's busy time: an estimate.`,
      `Profiles (open in Chrome DevTools): ${[path.join(cacheDir, 'prof-micro-one'), http.floor.file, http.one.file]
        .map((f) => path.relative(root, f))
        .join(', ')}.`,
    ],
    data: {
      micro: Object.fromEntries(MICRO_VARIANTS.map((v) => [v, { us: us(v), diff: diff(v) }])),
      tracing: Object.fromEntries(
        ['one', ...TRACING_VARIANTS.map(([v]) => v)].map((v) => [v, { cpuUs: cpuUs(v), extra: extraToOne(v), ratio: median(toOne(v)) }]),
      ),
      primitiveCosts,
    },
  }
}

if (isMain(import.meta.url)) runAlone(profile).finally(killAll)
