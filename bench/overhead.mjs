// 1. Overhead on @hono/node-server: the same JSON route as bare Hono, with the middleware and 0, 1 or
// 3 no-op tasks, and with a hand-rolled setImmediate. autocannon on loopback, interleaved rounds.
import { cannon, getJson, sleep, waitForTasks } from './lib/load.mjs'
import { envNumber, isMain } from './lib/main.mjs'
import { killAll } from './lib/proc.mjs'
import { environment, runAlone } from './lib/report.mjs'
import { startNode } from './lib/servers.mjs'
import { fmt, median, rotate } from './lib/stats.mjs'

const VARIANTS = [
  ['bare', 'bare Hono'],
  // The same app in a second process: its ratio to 'bare' is the noise floor of this run.
  ['bare2', 'bare Hono again (A/A control)'],
  ['mounted', 'middleware mounted, no task'],
  ['one', 'one no-op task'],
  ['three', 'three no-op tasks'],
  ['immediate', 'setImmediate(task) in the handler, no middleware'],
]

/**
 * A ">= wanted" target on a median ratio, judged against the A/A noise of the run: met when even
 * `ratio - noise` clears it, missed when even `ratio + noise` does not, otherwise inconclusive.
 */
const ratioTarget = (what, ratio, wanted, noise) => {
  const pass = ratio - noise >= wanted
  const missed = ratio + noise < wanted
  return {
    what,
    wanted: `>= ${wanted.toFixed(2)}`,
    measured: `${fmt.ratio(ratio)} (A/A noise ±${noise.toFixed(3)})`,
    pass,
    ...(pass || missed ? {} : { verdict: 'inconclusive' }),
  }
}

export const overhead = async ({
  rounds = envNumber('BENCH_ROUNDS', 6),
  duration = envNumber('BENCH_DURATION', 2.5),
  connections = envNumber('BENCH_CONNECTIONS', 50),
} = {}) => {
  const env = environment()
  const started = performance.now()
  const servers = {}
  for (const [id] of VARIANTS) servers[id] = await startNode(id === 'bare2' ? 'bare' : id, { name: `node:${id}` })
  const ids = VARIANTS.map(([id]) => id)
  try {
    for (const id of ids) await cannon({ url: `${servers[id].url}/`, connections, duration: 2 }) // JIT warm-up
    const results = []
    for (let round = 0; round < rounds; round++) {
      const measured = {}
      for (const id of rotate(ids, round)) {
        const server = servers[id]
        await waitForTasks(server)
        const before = await getJson(`${server.url}/__stats`)
        const load = await cannon({ url: `${server.url}/`, connections, duration })
        // Tasks run after the responses: their CPU is counted once they have all completed.
        const after = await waitForTasks(server)
        measured[id] = { ...load, cpuPerRequest: (after.cpu - before.cpu) / load.requests }
        if (load.errors) throw new Error(`${id}: ${load.errors} errors under load`)
        await sleep(200)
      }
      results.push(measured)
      const line = ids.map((id) => `${id} ${fmt.int(measured[id].rps)}/s`).join(', ')
      console.error(`[overhead] round ${round + 1}/${rounds}: ${line}`)
    }
    const final = {}
    for (const id of ids) final[id] = await waitForTasks(servers[id])

    const ratio = (id, key) => results.map((r) => r[id][key] / r.bare[key])
    const rows = VARIANTS.map(([id, label]) => ({
      id,
      label,
      rps: median(results.map((r) => r[id].rps)),
      p50: median(results.map((r) => r[id].p50)),
      p99: median(results.map((r) => r[id].p99)),
      cpu: median(results.map((r) => r[id].cpuPerRequest)),
      rpsRatios: ratio(id, 'rps'),
      p99Ratios: ratio(id, 'p99'),
      cpuRatios: ratio(id, 'cpuPerRequest'),
      tasks: id === 'bare' || id === 'bare2' || id === 'mounted' ? 'none' : `${fmt.int(final[id].completed)} / ${fmt.int(final[id].added)}`,
    }))
    const byId = Object.fromEntries(rows.map((row) => [row.id, row]))
    const rpsOf = (id) => median(byId[id].rpsRatios)
    const noise = byId.bare2.rpsRatios.map((r) => Math.abs(1 - r))
    // How far the median of two identical servers strays from 1: a ratio closer to its target than this is not resolved.
    const aaNoise = Math.abs(1 - rpsOf('bare2'))
    return {
      id: 'overhead',
      title: '1. Overhead on @hono/node-server',
      env,
      seconds: (performance.now() - started) / 1000,
      intro: [
        `\`GET /\` answering \`{"hello":"world"}\`, one Node process per variant, loaded by autocannon on 127.0.0.1 (${connections} connections,`,
        `${duration} s per variant per round after a 2 s warm-up), ${rounds} rounds with the variants in rotating order. Ratios are the`,
        "medians of the per-round ratios to bare Hono (range in brackets). Server CPU per request is the server process's user + system",
        'CPU time over the round, including the tasks it ran after the responses, divided by the requests: less noisy than req/s.',
        'The A/A control is a second, identical bare Hono process: how far its ratios stray from 1.000 is the noise of this run.',
      ].join('\n'),
      tables: [
        {
          caption: 'Medians of the rounds:',
          headers: ['Variant', 'req/s', 'p50', 'p99', 'server CPU/req', 'tasks completed / added'],
          rows: rows.map((r) => [r.label, fmt.int(r.rps), fmt.ms(r.p50), fmt.ms(r.p99), `${r.cpu.toFixed(1)} µs`, r.tasks]),
        },
        {
          caption: 'Relative to bare Hono (median of per-round ratios, [min-max]):',
          headers: ['Variant', 'req/s ratio', 'p99 ratio', 'CPU/req ratio'],
          rows: rows
            .filter((r) => r.id !== 'bare')
            .map((r) => [
              r.label,
              `${fmt.ratio(median(r.rpsRatios))} [${fmt.range(r.rpsRatios)}]`,
              `${fmt.ratio(median(r.p99Ratios))} [${fmt.range(r.p99Ratios)}]`,
              `${fmt.ratio(median(r.cpuRatios))} [${fmt.range(r.cpuRatios)}]`,
            ]),
        },
      ],
      targets: [
        ratioTarget('req/s, middleware mounted, no task, vs bare Hono', rpsOf('mounted'), 0.97, aaNoise),
        ratioTarget('req/s, one no-op task, vs bare Hono', rpsOf('one'), 0.95, aaNoise),
        {
          what: 'overhead benchmark: every task added ran',
          wanted: 'completed = added',
          measured: ['one', 'three', 'immediate'].map((id) => `${id} ${final[id].completed}/${final[id].added}`).join(', '),
          pass: ['one', 'three', 'immediate'].every((id) => final[id].completed === final[id].added),
        },
      ],
      notes: [
        `Noise in this run: the A/A control's per-round req/s ratios stray up to ${(100 * Math.max(...noise)).toFixed(0)}% from 1 (median ${(100 * median(noise)).toFixed(0)}%), and its median ratio is ${fmt.ratio(rpsOf('bare2'))}.`,
      ],
      data: { rows },
    }
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()))
  }
}

if (isMain(import.meta.url)) runAlone(overhead).finally(killAll)
