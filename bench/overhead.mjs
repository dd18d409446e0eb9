// 1. Overhead on @hono/node-server: the same JSON route as bare Hono, against the floor that any async
// Hono middleware has (a no-op async middleware, plus setImmediate(task) for one task), with the library
// mounted and 0, 1 or 3 no-op tasks. wrk (or autocannon) on loopback, interleaved rounds.
import { generator, generatorCommand, getJson, load, sleep, waitForTasks } from './lib/load.mjs'
import { envNumber, isMain } from './lib/main.mjs'
import { killAll } from './lib/proc.mjs'
import { environment, runAlone } from './lib/report.mjs'
import { startNode } from './lib/servers.mjs'
import { fmt, median, rotate } from './lib/stats.mjs'

/** [id, server variant, label, the variant it is compared with]. */
const VARIANTS = [
  ['bare', 'bare', 'bare Hono', undefined],
  ['floor-bare', 'floor-bare', 'floor, no task: one no-op async middleware', undefined],
  ['floor', 'floor', 'floor: no-op async middleware + setImmediate(task) in the handler', undefined],
  // The same app in a second process: its ratio to 'floor' is the noise of this run.
  ['floor2', 'floor', 'floor again (A/A control)', 'floor'],
  ['mounted', 'mounted', 'middleware mounted, no task', 'floor-bare'],
  // The no-task floor in a second process: the noise of the comparison of 'mounted', made in its own group.
  ['floor-bare2', 'floor-bare', "floor, no task, again (A/A control of 'mounted')", 'floor-bare'],
  ['one', 'one', 'one no-op task', 'floor'],
  // No library: what 1 µs more of JavaScript per request does to req/s, CPU and p99 in this run.
  ['floor-spin', 'floor-spin', 'the floor + 1 µs of busy work per request (calibration, no library)', 'floor'],
  ['three', 'three', 'three no-op tasks', 'floor'],
  ['one-var', 'one-var', 'one no-op task, added through `c.var` (Hono builds an object per read)', 'floor'],
]
// Variants compared with each other run next to each other in a round, so that the machine's other load
// changes less between them; the groups, and the order inside each, rotate from round to round.
const GROUPS = [['floor', 'one', 'three', 'floor2', 'one-var', 'floor-spin'], ['floor-bare', 'mounted', 'floor-bare2'], ['bare']]
const WITH_TASKS = ['floor', 'floor2', 'one', 'three', 'one-var', 'floor-spin']
const SPLIT = ['userPerRequest', 'gcPerRequest', 'systemPerRequest', 'scavengesPer10k', 'gcPauseMs']

/** Round `n`'s order: groups rotated, each group rotated and, every other round, reversed. */
const orderOf = (n) =>
  rotate(GROUPS, n).flatMap((group) => {
    const turned = rotate(group, Math.floor(n / 2))
    return n % 2 ? turned.reverse() : turned
  })

/**
 * A target on a median ratio, judged against the A/A noise of the run: met when even the ratio moved by
 * the noise against it clears the target, missed when even the ratio moved in its favour does not,
 * otherwise inconclusive.
 */
const ratioTarget = (what, ratio, wanted, noise, { atMost = false } = {}) => {
  const pass = atMost ? ratio + noise <= wanted : ratio - noise >= wanted
  const missed = atMost ? ratio - noise > wanted : ratio + noise < wanted
  return {
    what,
    wanted: `${atMost ? '<=' : '>='} ${wanted.toFixed(2)}`,
    measured: `${fmt.ratio(ratio)} (${generator}; A/A noise ±${noise.toFixed(3)})`,
    pass,
    ...(pass || missed ? {} : { verdict: 'inconclusive' }),
  }
}

/**
 * Where a round's server CPU went, per request: user time (JavaScript, GC included), of it the GC
 * pauses the runtime reported, and system time (the sockets); scavenges per 10,000 requests.
 */
const cpuSplit = (before, after, requests) => ({
  cpuPerRequest: (after.cpu - before.cpu) / requests,
  userPerRequest: (after.user - before.user) / requests,
  systemPerRequest: (after.system - before.system) / requests,
  gcPerRequest: (1000 * (after.gc.ms - before.gc.ms)) / requests,
  scavengesPer10k: (10_000 * (after.gc.minor - before.gc.minor)) / requests,
  gcPauseMs: (after.gc.ms - before.gc.ms) / Math.max(1, after.gc.minor + after.gc.major - before.gc.minor - before.gc.major),
})

export const overhead = async ({
  rounds = envNumber('BENCH_ROUNDS', 10),
  duration = envNumber('BENCH_DURATION', 2),
  connections = envNumber('BENCH_CONNECTIONS', 50),
} = {}) => {
  const env = environment()
  const started = performance.now()
  const ids = VARIANTS.map(([id]) => id)
  const results = []
  // Completed and added tasks, summed over the rounds' processes.
  const final = Object.fromEntries(ids.map((id) => [id, { completed: 0, added: 0 }]))
  for (let round = 0; round < rounds; round++) {
    // Fresh processes every round: two identical Node processes can differ by 10-20% for the whole of their
    // lives (what the JIT happened to inline, where things landed in memory), which one process per variant
    // would turn into a bias; new ones each round turn it into noise that the median of the rounds absorbs.
    const servers = {}
    try {
      for (const [id, variant] of VARIANTS) servers[id] = await startNode(variant, { name: `node:${id}` })
      for (const id of ids) await load({ url: `${servers[id].url}/`, connections, duration: 1 }) // JIT warm-up
      const measured = {}
      for (const id of orderOf(round)) {
        const server = servers[id]
        await waitForTasks(server)
        const before = await getJson(`${server.url}/__stats`)
        const run = await load({ url: `${server.url}/`, connections, duration })
        // Tasks run after the responses: their CPU is counted once they have all completed.
        const after = await waitForTasks(server)
        measured[id] = { ...run, ...cpuSplit(before, after, run.requests) }
        if (run.errors) throw new Error(`${id}: ${run.errors} errors under load`)
        await sleep(200)
      }
      for (const id of ids) {
        const stats = await waitForTasks(servers[id])
        final[id].completed += stats.completed
        final[id].added += stats.added
      }
      results.push(measured)
      const line = ids.map((id) => `${id} ${fmt.int(measured[id].rps)}/s`).join(', ')
      console.error(`[overhead] round ${round + 1}/${rounds}: ${line}`)
    } finally {
      await Promise.all(Object.values(servers).map((s) => s.stop()))
    }
  }
  const ratio = (id, base, key) => results.map((r) => r[id][key] / r[base][key])
  const rows = VARIANTS.map(([id, , label, base]) => ({
    id,
    label,
    base,
    rps: median(results.map((r) => r[id].rps)),
    p50: median(results.map((r) => r[id].p50)),
    p99: median(results.map((r) => r[id].p99)),
    cpu: median(results.map((r) => r[id].cpuPerRequest)),
    ...Object.fromEntries(SPLIT.map((key) => [key, median(results.map((r) => r[id][key]))])),
    // Per-round differences from the compared variant, in µs: what each part adds, paired like the ratios.
    extra: Object.fromEntries(
      (base ? ['cpuPerRequest', ...SPLIT] : []).map((key) => [key, median(results.map((r) => r[id][key] - r[base][key]))]),
    ),
    vsBare: ratio(id, 'bare', 'rps'),
    rpsRatios: base ? ratio(id, base, 'rps') : [],
    p99Ratios: base ? ratio(id, base, 'p99') : [],
    cpuRatios: base ? ratio(id, base, 'cpuPerRequest') : [],
    tasks: WITH_TASKS.includes(id) ? `${fmt.int(final[id].completed)} / ${fmt.int(final[id].added)}` : 'none',
  }))
  const byId = Object.fromEntries(rows.map((row) => [row.id, row]))
  const of = (id, key) => median(byId[id][key])
  const aaRps = byId.floor2.rpsRatios.map((r) => Math.abs(1 - r))
  // What this run can resolve: how far the median of two identical servers strays from 1, or the standard
  // error of a median of per-round ratios with the A/A control's spread, whichever is larger. A ratio closer
  // to its target than this is inconclusive.
  const noise = (key, control = 'floor2') => {
    const aa = byId[control][key]
    const mean = aa.reduce((a, b) => a + b, 0) / aa.length
    const sd = Math.sqrt(aa.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, aa.length - 1))
    return Math.max(Math.abs(1 - median(aa)), (1.2533 * sd) / Math.sqrt(aa.length))
  }
  const baseLabel = (id) => (id === 'floor-bare' ? "the floor's no-task server" : 'the floor')
  const command = generatorCommand({ connections, duration })
  return {
    id: 'overhead',
    title: '1. Overhead on @hono/node-server',
    env,
    seconds: (performance.now() - started) / 1000,
    intro: [
      `\`GET /\` answering \`{"hello":"world"}\`, one Node process per variant, started afresh every round and warmed up for 1 s, loaded`,
      `by **${generator}** (\`${command}\`) on 127.0.0.1; ${rounds} rounds, in which the variants compared with each other run next to each other, in an order that`,
      'rotates and reverses from round to round. The floor is what any Hono middleware costs: a no-op',
      'async middleware (so `app.fetch` returns a promise and @hono/node-server leaves its synchronous fast path), plus',
      "`setImmediate(task)` in the handler for the variants that run a task. The library's routes add tasks with",
      "`c.get('tasks').add(task)`; the `c.var` variant is the same route written with `c.var.tasks.add(task)`, and shows what",
      "Hono's `c.var` getter costs (it builds an object from all the context's variables on every read). Ratios are the medians of the per-round ratios",
      "(range in brackets). Server CPU per request is the server process's user + system CPU time over the round, including the",
      'tasks it ran after the responses, divided by the requests. The A/A controls are second, identical floor processes (one',
      "with a task, one without, for 'mounted'), each in the group it controls: how far their ratios stray from 1.000, and how much",
      'they spread, is what this run can resolve: a ratio closer to its target than that is reported as inconclusive.',
    ].join('\n'),
    tables: [
      {
        caption: `Medians of the rounds (${generator}):`,
        headers: ['Variant', 'req/s', 'vs bare Hono', 'p50', 'p99', 'server CPU/req', 'tasks completed / added'],
        rows: rows.map((r) => [
          r.label,
          fmt.int(r.rps),
          r.id === 'bare' ? '' : fmt.ratio(median(r.vsBare)),
          fmt.ms(r.p50),
          fmt.ms(r.p99),
          `${r.cpu.toFixed(1)} µs`,
          r.tasks,
        ]),
      },
      {
        caption: `Relative to the floor (median of per-round ratios, [min-max]; ${generator}):`,
        headers: ['Variant', 'compared with', 'req/s ratio', 'p99 ratio', 'CPU/req ratio'],
        rows: rows
          .filter((r) => r.base)
          .map((r) => [
            r.label,
            baseLabel(r.base),
            `${fmt.ratio(median(r.rpsRatios))} [${fmt.range(r.rpsRatios)}]`,
            `${fmt.ratio(median(r.p99Ratios))} [${fmt.range(r.p99Ratios)}]`,
            `${fmt.ratio(median(r.cpuRatios))} [${fmt.range(r.cpuRatios)}]`,
          ]),
      },
      {
        caption:
          'Where the server CPU per request goes (medians of the rounds; user time includes the GC pauses, which Node reports as performance entries; extra: the median of the per-round differences from the compared variant, the A/A controls showing its noise):',
        headers: [
          'Variant',
          'CPU/req',
          'user',
          'of it GC',
          'system',
          'scavenges per 10k req',
          'mean GC pause',
          'extra CPU',
          'extra user',
          'extra GC',
          'extra system',
        ],
        rows: rows.map((r) => [
          r.label,
          fmt.us(r.cpu),
          fmt.us(r.userPerRequest),
          fmt.us(r.gcPerRequest),
          fmt.us(r.systemPerRequest),
          r.scavengesPer10k.toFixed(1),
          fmt.ms(r.gcPauseMs),
          ...(r.base
            ? ['cpuPerRequest', 'userPerRequest', 'gcPerRequest', 'systemPerRequest'].map((key) => fmt.signedUs(r.extra[key]))
            : ['', '', '', '']),
        ]),
      },
    ],
    targets: [
      ratioTarget(
        "req/s, middleware mounted, no task, vs the floor's no-task server",
        of('mounted', 'rpsRatios'),
        0.98,
        noise('rpsRatios', 'floor-bare2'),
      ),
      ratioTarget('req/s, one no-op task, vs the floor', of('one', 'rpsRatios'), 0.97, noise('rpsRatios')),
      ratioTarget('req/s, three no-op tasks, vs the floor', of('three', 'rpsRatios'), 0.93, noise('rpsRatios')),
      ...['mounted', 'one', 'three'].flatMap((id) => {
        const control = id === 'mounted' ? 'floor-bare2' : 'floor2'
        return [
          ratioTarget(
            `p99 latency, ${byId[id].label}, vs ${baseLabel(byId[id].base)}`,
            of(id, 'p99Ratios'),
            1.1,
            noise('p99Ratios', control),
            {
              atMost: true,
            },
          ),
          ratioTarget(
            `server CPU/request, ${byId[id].label}, vs ${baseLabel(byId[id].base)}`,
            of(id, 'cpuRatios'),
            1.1,
            noise('cpuRatios', control),
            { atMost: true },
          ),
        ]
      }),
      {
        what: 'overhead benchmark: every task added ran',
        wanted: 'completed = added',
        measured: WITH_TASKS.map((id) => `${id} ${final[id].completed}/${final[id].added}`).join(', '),
        pass: WITH_TASKS.every((id) => final[id].completed === final[id].added),
      },
    ],
    notes: [
      `Noise in this run: the A/A control's per-round req/s ratios stray up to ${(100 * Math.max(...aaRps)).toFixed(0)}% from 1 (median ${(100 * median(aaRps)).toFixed(0)}%); its median ratios are req/s ${fmt.ratio(of('floor2', 'rpsRatios'))}, p99 ${fmt.ratio(of('floor2', 'p99Ratios'))}, CPU/req ${fmt.ratio(of('floor2', 'cpuRatios'))}; those of the no-task control, req/s ${fmt.ratio(of('floor-bare2', 'rpsRatios'))}, p99 ${fmt.ratio(of('floor-bare2', 'p99Ratios'))}, CPU/req ${fmt.ratio(of('floor-bare2', 'cpuRatios'))}.`,
    ],
    data: { generator, command, rows },
  }
}

if (isMain(import.meta.url)) runAlone(overhead).finally(killAll)
