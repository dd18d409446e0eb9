// 9. Instructions per request on @hono/node-server, counted by valgrind's callgrind: unlike req/s and
// CPU time, instruction counts barely move with the machine's other load, so they resolve differences
// of 1-2% that a shared 2-core machine cannot. Each server runs under callgrind with instrumentation
// off while the JIT warms up, then with counters zeroed and dumped around windows of load. For the
// floor and one task, the difference is split by function: V8 builtins and C++ by symbol, JIT-compiled
// JavaScript by the name node's --perf-basic-prof map gives its address. Skipped without valgrind.
import { execFile } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { buildNodeServer } from './lib/build.mjs'
import { generator, loadRequests } from './lib/load.mjs'
import { envNumber, isMain } from './lib/main.mjs'
import { cacheDir, root } from './lib/paths.mjs'
import { commandPath, killAll, startServer } from './lib/proc.mjs'
import { environment, runAlone } from './lib/report.mjs'
import { fmt, median } from './lib/stats.mjs'

const run = promisify(execFile)

/** [variant, label, the variant it is compared with]. */
const VARIANTS = [
  ['floor-bare', 'floor, no task: one no-op async middleware', undefined],
  ['mounted', 'middleware mounted, no task', 'floor-bare'],
  ['floor', 'floor: no-op async middleware + setImmediate(task)', undefined],
  ['one', 'one no-op task', 'floor'],
  ['three', 'three no-op tasks', 'floor'],
  ['one-var', 'one no-op task, added through `c.var`', 'floor'],
].filter(([variant]) => {
  // BENCH_CALLGRIND_VARIANTS=floor,one: a quicker run, for experiments on a copy of src/ with one step taken out.
  const only = process.env.BENCH_CALLGRIND_VARIANTS
  return !only || only.split(',').includes(variant)
})
if (!['floor', 'one'].every((needed) => VARIANTS.some(([variant]) => variant === needed))) {
  throw new Error(
    `BENCH_CALLGRIND_VARIANTS=${process.env.BENCH_CALLGRIND_VARIANTS}: keep floor and one, which the by-function table compares`,
  )
}

const control = (pid, flag) => run('callgrind_control', [flag, String(pid)])

/** The misses `--cache-sim=yes` counts: first-level instruction, data read and write; the same at the last level. */
const CACHE_EVENTS = ['I1mr', 'D1mr', 'D1mw', 'ILmr', 'DLmr', 'DLmw']

/**
 * Cache misses per request from a dump made with `--cache-sim=yes` (events Ir Dr Dw I1mr D1mr D1mw
 * ILmr DLmr DLmw), and callgrind's own estimate of cycles: Ir + 10 per first-level miss + 100 per
 * last-level miss. Instructions alone cannot show what a longer code path or a larger heap per
 * request costs in cache misses.
 */
const cacheMisses = (events, counts, requests) => {
  const of = (name) => (counts[events.split(' ').indexOf(name)] ?? 0) / requests
  const l1 = of('I1mr') + of('D1mr') + of('D1mw')
  const ll = of('ILmr') + of('DLmr') + of('DLmw')
  return { l1, ll, cycles: of('Ir') + 10 * l1 + 100 * ll }
}

/** Instructions per request of one variant: median of `windows` windows of `perWindow` requests. */
const measure = async (variant, { windows, perWindow, warmup, connections, cacheSim }) => {
  const dir = path.join(cacheDir, `callgrind-${variant}`)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const file = await buildNodeServer()
  const server = await startServer(
    `callgrind:${variant}`,
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      ...(cacheSim ? ['--cache-sim=yes'] : []),
      `--callgrind-out-file=${dir}/out.%p`,
      process.execPath,
      '--perf-basic-prof',
      file,
      variant,
    ],
    { timeout: 180_000 },
  )
  const url = `${server.url}/`
  const pid = server.child.pid
  try {
    // The JIT warms up uninstrumented (fast), then a little more with counting on.
    await loadRequests({ url, connections, requests: warmup, piece: 5 })
    await control(pid, '--instr=on')
    await loadRequests({ url, connections, requests: Math.ceil(warmup / 5), piece: 5 })
    const perRequest = []
    const misses = []
    let last
    for (let w = 0; w < windows; w++) {
      await control(pid, '--zero')
      const { requests } = await loadRequests({ url, connections, requests: perWindow, piece: 5 })
      await new Promise((resolve) => setTimeout(resolve, 300))
      await control(pid, '--dump')
      // Dumps are out.PID.1, out.PID.2, ...; out.PID itself is written at exit.
      const file = readdirSync(dir)
        .filter((f) => /^out\.\d+\.\d+$/.test(f))
        .sort((a, b) => Number(b.split('.').pop()) - Number(a.split('.').pop()))[0]
      if (!file) throw new Error(`callgrind:${variant}: no dump in ${dir}`)
      const dump = readFileSync(path.join(dir, file), 'utf8')
      const summary = /^summary: ([\d ]+)$/m.exec(dump)
      if (!summary) throw new Error(`callgrind:${variant}: no summary line in ${file}`)
      const counts = summary[1].split(' ').map(Number)
      perRequest.push(counts[0] / requests)
      if (cacheSim) misses.push(cacheMisses(/^events: (.*)$/m.exec(dump)?.[1] ?? '', counts, requests))
      last = { file: path.join(dir, file), requests }
    }
    return { perRequest, misses, last, map: `/tmp/perf-${pid}.map` }
  } finally {
    await server.stop('SIGTERM')
  }
}

/** Per-request instructions by function of a dump; JIT code is named from the perf map. */
const byFunction = async ({ file, requests }, mapFile, cacheSim) => {
  const map = readFileSync(mapFile, 'utf8')
    .split('\n')
    .map((line) => {
      const [start, size, ...name] = line.split(' ')
      return [Number.parseInt(start, 16), Number.parseInt(size, 16), name.join(' ')]
    })
    .filter(([start, size]) => Number.isFinite(start) && Number.isFinite(size))
    .sort((a, b) => a[0] - b[0])
  const nameAt = (address) => {
    // The last code object created at or below the address that still covers it.
    for (let lo = 0, hi = map.length - 1, found = -1; ; ) {
      if (lo > hi) {
        for (let i = found; i >= 0 && i > found - 64; i--) {
          const [start, size, name] = map[i]
          if (address < start + size) {
            const short = name
              .replace(/^(LazyCompile|Function|JS):/, '')
              .replaceAll(`file://${root}`, '')
              .replaceAll(root, '')
            return `JS ${short.replace(/node_modules\//, '')}`
          }
        }
        return 'JS (not in the map)'
      }
      const mid = (lo + hi) >> 1
      if (map[mid][0] <= address) {
        found = mid
        lo = mid + 1
      } else hi = mid - 1
    }
  }
  const shown = cacheSim ? ['Ir', ...CACHE_EVENTS] : ['Ir']
  const { stdout } = await run('callgrind_annotate', ['--inclusive=no', '--threshold=100', `--show=${shown.join(',')}`, file], {
    maxBuffer: 1 << 26,
  })
  // Per function: instructions, and with the cache simulated, callgrind's estimate of cycles.
  const totals = new Map()
  // One count per event shown ("." for none), each but the last column's with its share in brackets, then the name.
  const column = String.raw`([\d,]+|\.)(?: \([ \d.]+%\))?\s+`
  const row = new RegExp(`^\\s*${column.repeat(shown.length)}(.*)$`)
  for (const line of stdout.split('\n')) {
    const m = row.exec(line)
    if (!m || line.includes('PROGRAM TOTALS') || !/\d/.test(m[1])) continue
    const counts = m.slice(1, -1).map((n) => (n === '.' ? 0 : Number(n.replaceAll(',', ''))) / requests)
    let name = m.at(-1).replace(/^\?\?\?:/, '')
    const jit = /^0x([0-9a-f]+)('\d+)? \[\?\?\?\]/.exec(name)
    if (jit) name = nameAt(Number.parseInt(jit[1], 16))
    else name = name.replace(/\(.*\) \[/, ' [').replace(/ \[[^\]]*\]$/, '')
    const [ir, i1, d1r, d1w, ill, dlr, dlw] = counts
    const cycles = cacheSim ? ir + 10 * (i1 + d1r + d1w) + 100 * (ill + dlr + dlw) : ir
    const sum = totals.get(name) ?? { ir: 0, cycles: 0 }
    totals.set(name, { ir: sum.ir + ir, cycles: sum.cycles + cycles })
  }
  return totals
}

export const instructions = async ({
  processes = envNumber('BENCH_CALLGRIND_PROCESSES', 2),
  windows = envNumber('BENCH_CALLGRIND_WINDOWS', 2),
  perWindow = envNumber('BENCH_CALLGRIND_REQUESTS', 8000),
  warmup = envNumber('BENCH_CALLGRIND_WARMUP', 40_000),
  connections = 10,
  // A simulated cache (about twice as slow): misses per request and estimated cycles, besides instructions.
  cacheSim = process.env.BENCH_CALLGRIND_CACHE !== '0',
} = {}) => {
  const env = environment()
  const started = performance.now()
  const base = {
    id: 'instructions',
    title: '9. Instructions per request (callgrind, Node)',
    env,
  }
  if (!commandPath('valgrind') || !commandPath('callgrind_control')) {
    return { ...base, seconds: 0, intro: 'Skipped: valgrind is not installed (Debian: `apt-get install valgrind`).', targets: [] }
  }
  const results = {}
  // Two at a time: instruction counts do not depend on how busy the machine is.
  const queue = VARIANTS.map(([variant]) => variant)
  await Promise.all(
    [0, 1].map(async () => {
      for (let variant = queue.shift(); variant; variant = queue.shift()) {
        // Several processes: two identical ones can differ by a percent for their whole lives (what the JIT inlined).
        const runs = []
        for (let i = 0; i < processes; i++) runs.push(await measure(variant, { windows, perWindow, warmup, connections, cacheSim }))
        results[variant] = {
          perRequest: runs.flatMap((r) => r.perRequest),
          misses: runs.flatMap((r) => r.misses),
          last: runs.at(-1).last,
          map: runs.at(-1).map,
          maps: runs.map((r) => r.map),
        }
        console.error(`[instructions] ${variant}: ${results[variant].perRequest.map((n) => fmt.int(n)).join(', ')} per request`)
      }
    }),
  )
  const per = (variant) => median(results[variant].perRequest)
  const floor = await byFunction(results.floor.last, results.floor.map, cacheSim)
  const one = await byFunction(results.one.last, results.one.map, cacheSim)
  for (const { maps } of Object.values(results)) for (const map of maps) rmSync(map, { force: true })
  const names = new Set([...floor.keys(), ...one.keys()])
  const NONE = { ir: 0, cycles: 0 }
  const extra = (name, key) => (one.get(name) ?? NONE)[key] - (floor.get(name) ?? NONE)[key]
  // Sorted by what a row adds in estimated cycles (in instructions without the cache simulation).
  const diffs = [...names]
    .filter((name) => Math.abs(extra(name, 'ir')) >= 25 || Math.abs(extra(name, 'cycles')) >= 250)
    .sort((a, b) => extra(b, 'cycles') - extra(a, 'cycles'))
  const total = (m, key) => [...m.values()].reduce((sum, counts) => sum + counts[key], 0)
  const cell = (n) => `${n >= 0 ? '+' : ''}${fmt.int(n)}`
  return {
    ...base,
    seconds: (performance.now() - started) / 1000,
    intro: [
      `The overhead benchmark's servers under \`valgrind --tool=callgrind\`, loaded by ${generator} (${connections} connections, in pieces of 5 s): ${fmt.int(warmup)}`,
      `requests to warm the JIT up uninstrumented, ${fmt.int(warmup / 5)} more counted, then ${windows} windows of at least ${fmt.int(perWindow)}`,
      `requests, each between a zero and a dump of the counters; ${processes} processes per variant, one after the other. Instructions per request count everything the server process`,
      "executes, on every thread: the adapter, Hono, the library, the tasks it runs after the response, V8's compilers and GC.",
      'An extra x% of instructions predicts req/s of about 1/(1 + x%) on a core that is not shared.',
    ].join('\n'),
    tables: [
      {
        caption: `Instructions per request, median of the ${processes * windows} windows [range]:`,
        headers: ['Variant', 'instructions/request', 'compared with', 'extra', 'ratio'],
        rows: VARIANTS.map(([variant, label, against]) => [
          label,
          `${fmt.int(per(variant))} [${fmt.range(results[variant].perRequest, 0)}]`,
          results[against] ? against : '',
          results[against] ? `${per(variant) >= per(against) ? '+' : ''}${fmt.int(per(variant) - per(against))}` : '',
          results[against] ? fmt.ratio(per(variant) / per(against)) : '',
        ]),
      },
      ...(cacheSim
        ? [
            {
              caption: `The same windows with callgrind's simulated cache (\`--cache-sim=yes\`): misses per request, and its estimate of cycles (instructions + 10 per first-level miss + 100 per last-level miss), medians of the ${processes * windows} windows:`,
              headers: ['Variant', 'L1 misses/request', 'LL misses/request', 'estimated cycles/request', 'compared with', 'extra', 'ratio'],
              rows: VARIANTS.map(([variant, label, against]) => {
                const cyc = (v) => median(results[v].misses.map((m) => m.cycles))
                return [
                  label,
                  fmt.int(median(results[variant].misses.map((m) => m.l1))),
                  fmt.int(median(results[variant].misses.map((m) => m.ll))),
                  fmt.int(cyc(variant)),
                  results[against] ? against : '',
                  results[against] ? `${cyc(variant) >= cyc(against) ? '+' : ''}${fmt.int(cyc(variant) - cyc(against))}` : '',
                  results[against] ? fmt.ratio(cyc(variant) / cyc(against)) : '',
                ]
              }),
            },
          ]
        : []),
      {
        caption: `Where one task's extra instructions go, by function (the last window each of \`one\` and \`floor\`: ${fmt.int(total(one, 'ir') - total(floor, 'ir'))} instructions${cacheSim ? ` and ${fmt.int(total(one, 'cycles') - total(floor, 'cycles'))} estimated cycles` : ''} per request in these two; rows of at least 25 instructions${cacheSim ? ' or 250 cycles' : ''}):`,
        headers: [
          'Function (JS: file and line in the bundle)',
          'floor',
          'one task',
          'extra',
          ...(cacheSim ? ['extra estimated cycles'] : []),
        ],
        rows: diffs.map((name) => [
          name.length > 110 ? `${name.slice(0, 107)}...` : name,
          fmt.int((floor.get(name) ?? NONE).ir),
          fmt.int((one.get(name) ?? NONE).ir),
          cell(extra(name, 'ir')),
          ...(cacheSim ? [cell(extra(name, 'cycles'))] : []),
        ]),
      },
    ],
    notes: [
      'JIT-compiled functions include what V8 inlined into them: `backgroundTasks` (the middleware) carries RequestTasks and the hand-off, `#pump` the task run. Builtins such as `MapConstructor` are V8 code the library calls (here `c.set`).',
    ],
    // The req/s targets of the overhead piece, as instructions: req/s >= r means instructions <= 1/r of the floor's.
    targets: [
      ['mounted', 0.98],
      ['one', 0.97],
      ['three', 0.93],
    ]
      .filter(([variant]) => VARIANTS.some(([v, , against]) => v === variant && VARIANTS.some(([w]) => w === against)))
      .map(([variant, rps]) => {
        const [, label, against] = VARIANTS.find(([v]) => v === variant)
        const ratio = per(variant) / per(against)
        return {
          what: `instructions/request, ${label}, vs ${against} (req/s >= ${rps.toFixed(2)} on a core of its own)`,
          wanted: `<= ${(1 / rps).toFixed(3)}`,
          measured: `${fmt.ratio(ratio)} (callgrind, ${generator})`,
          pass: ratio <= 1 / rps,
        }
      }),
    data: Object.fromEntries(VARIANTS.map(([variant]) => [variant, results[variant].perRequest])),
  }
}

if (isMain(import.meta.url)) runAlone(instructions).finally(killAll)
