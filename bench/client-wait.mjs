// 2. Client wait: GET /task adds a task that takes 500 ms, GET /none adds none; the client's latency (to
// the last byte of the body) with the task, divided by without, on Node, Bun, Deno, workerd and edge-runtime.
import { closeAgents, sleep, timedGet, waitForTasks } from './lib/load.mjs'
import { envNumber, isMain } from './lib/main.mjs'
import { killAll } from './lib/proc.mjs'
import { environment, runAlone } from './lib/report.mjs'
import { runtimes } from './lib/servers.mjs'
import { fmt, median, percentile, rotate } from './lib/stats.mjs'

const TASK_MS = 500
const ROUTES = ['none', 'task', 'none2', 'fire', 'quick', 'peek', 'restream', 'completed']
const LIMIT = 1.1
const WATCH = {
  node: "waits for outgoing 'close'",
  bun: 'a body the Context noted buffered goes out untouched',
  deno: 'waits for info.completed',
  workerd: 'a body the Context noted buffered goes out untouched, waitUntil',
  'edge-runtime': 'a body the Context noted buffered goes out untouched, waitUntil',
}

export const clientWait = async ({ rounds = envNumber('BENCH_WAIT_ROUNDS', 7), perRound = envNumber('BENCH_WAIT_REQUESTS', 24) } = {}) => {
  const env = environment()
  const started = performance.now()
  const names = Object.keys(runtimes)
  const servers = {}
  const failed = {}
  await Promise.all(
    names.map(async (name) => {
      try {
        servers[name] = await runtimes[name]('wait')
      } catch (error) {
        failed[name] = error.message.split('\n')[0]
        console.error(`[client-wait] ${name} did not start:`, error.message)
      }
    }),
  )
  const running = names.filter((n) => servers[n])
  try {
    for (const name of running) {
      for (let i = 0; i < 20; i++) for (const route of ROUTES) await timedGet(`${servers[name].url}/${route}`)
    }
    const samples = Object.fromEntries(
      running.map((n) => [
        n,
        {
          ...Object.fromEntries(ROUTES.map((r) => [r, []])),
          ratios: [],
          aaRatios: [],
          fireRatios: [],
          libraryRatios: [],
          quickRatios: [],
          peekRatios: [],
          restreamRatios: [],
          completedRatios: [],
        },
      ]),
    )
    for (let round = 0; round < rounds; round++) {
      for (const name of rotate(running, round)) {
        const { url } = servers[name]
        const times = Object.fromEntries(ROUTES.map((r) => [r, []]))
        for (let i = 0; i < perRound; i++) {
          // Rotate which route goes first, so none always follows the same one.
          for (const route of rotate(ROUTES, i)) times[route].push(await timedGet(`${url}/${route}`))
        }
        for (const route of ROUTES) samples[name][route].push(...times[route])
        samples[name].ratios.push(median(times.task) / median(times.none))
        samples[name].aaRatios.push(median(times.none2) / median(times.none))
        samples[name].fireRatios.push(median(times.fire) / median(times.none))
        samples[name].libraryRatios.push(median(times.task) / median(times.fire))
        samples[name].quickRatios.push(median(times.quick) / median(times.none))
        samples[name].peekRatios.push(median(times.peek) / median(times.none))
        samples[name].restreamRatios.push(median(times.restream) / median(times.none))
        samples[name].completedRatios.push(median(times.completed) / median(times.none))
      }
      console.error(
        `[client-wait] round ${round + 1}/${rounds}: ${running.map((n) => `${n} ${fmt.ratio(samples[n].ratios.at(-1))}`).join(', ')}`,
      )
    }
    await sleep(TASK_MS + 100)
    const stats = {}
    for (const name of running) stats[name] = await waitForTasks(servers[name], 5_000)

    const rows = running.map((name) => {
      const s = samples[name]
      const none = [...s.none].sort((a, b) => a - b)
      const task = [...s.task].sort((a, b) => a - b)
      return {
        name,
        none,
        task,
        ratio: median(s.ratios),
        ratios: s.ratios,
        aa: median(s.aaRatios),
        fire: median(s.fireRatios),
        library: median(s.libraryRatios),
        quick: median(s.quickRatios),
        peek: median(s.peekRatios),
        restream: median(s.restreamRatios),
        completed: median(s.completedRatios),
        stats: stats[name],
      }
    })
    return {
      id: 'client-wait',
      title: '2. Client wait with a 500 ms task',
      env,
      seconds: (performance.now() - started) / 1000,
      intro: [
        `\`GET /task\` adds a task that waits ${TASK_MS} ms; \`GET /none\` is the same route with the middleware and no task. One`,
        'request at a time on a kept-alive connection from a Node `http` client (no load generator), timed to the last byte of the body, the routes taking turns;',
        `${rounds} rounds of ${perRound} requests per route, the runtimes in rotating order. The ratio is the median over the rounds of`,
        'median(/task) / median(/none); 1.0 means the client does not wait for the task at all. `/none2` is `/none` under',
        'another name: its ratio (A/A) is the noise of the run, and a ratio closer to the target than that is inconclusive.',
        '`/fire` is the floor: the handler starts the same 500 ms task itself (fire-and-forget, no library), so its ratio is',
        "what a pending 500 ms task costs at all; `/task ÷ /fire` is the ratio against that floor, the library's own share.",
      ].join('\n'),
      tables: [
        {
          headers: [
            'Runtime',
            'median, no task',
            'median, 500 ms task',
            'p90, 500 ms task',
            'ratio [range]',
            'A/A ratio',
            'floor: /fire ratio',
            '/task ÷ /fire',
            'tasks completed / added',
          ],
          rows: rows.map((r) => [
            r.name,
            fmt.ms(percentile(r.none, 0.5), 3),
            fmt.ms(percentile(r.task, 0.5), 3),
            fmt.ms(percentile(r.task, 0.9), 3),
            `${fmt.ratio(r.ratio)} [${fmt.range(r.ratios)}]`,
            fmt.ratio(r.aa),
            fmt.ratio(r.fire),
            fmt.ratio(r.library),
            `${r.stats.completed} / ${r.stats.added}`,
          ]),
        },
        {
          caption: [
            'Diagnostics, measured in the same rounds (ratio to `/none`). `/quick` adds a task that returns at once: the',
            "library's cost without a pending 500 ms timer. The rest do by hand, without the library or a task, what it does to",
            'a response with tasks where there is no Node `outgoing`: `/peek` reads a clone of the body to its end and sends',
            'the original, as src/runtime/web-body.ts does to tell a buffered body from a stream when the Context did not note it (Bun, workerd, edge-runtime);',
            '`/restream` passes the body through a pull-based ReadableStream, as it does for a streamed body; `/completed`',
            "subscribes to Deno's `info.completed` (Deno). Where a diagnostic ratio is close to the task's, that step is the cost.",
          ].join('\n'),
          headers: [
            'Runtime',
            'what the library does here',
            '/task ratio',
            '/quick ratio',
            '/peek ratio',
            '/restream ratio',
            '/completed ratio',
          ],
          rows: rows.map((r) => [
            r.name,
            WATCH[r.name],
            fmt.ratio(r.ratio),
            fmt.ratio(r.quick),
            r.name === 'node' || r.name === 'deno' ? 'n/a' : fmt.ratio(r.peek),
            fmt.ratio(r.restream),
            r.name === 'deno' ? fmt.ratio(r.completed) : 'n/a',
          ]),
        },
      ],
      targets: [
        ...rows.map((r) => {
          // Judged against the A/A noise: met when even ratio + noise is within, missed when even ratio - noise is not.
          const noise = Math.abs(1 - r.aa)
          const pass = r.ratio + noise <= LIMIT
          const missed = r.ratio - noise > LIMIT
          return {
            what: `client wait ratio, 500 ms task, ${r.name}`,
            wanted: `<= ${LIMIT.toFixed(2)}`,
            measured: `${fmt.ratio(r.ratio)} (A/A noise ±${noise.toFixed(3)})`,
            pass,
            ...(pass || missed ? {} : { verdict: 'inconclusive' }),
          }
        }),
        ...Object.entries(failed).map(([name, why]) => ({
          what: `client wait ratio, 500 ms task, ${name}`,
          wanted: '<= 1.10',
          measured: `did not start: ${why}`,
          pass: false,
        })),
        {
          what: 'client wait: every 500 ms task ran',
          wanted: 'completed = added',
          measured: rows.map((r) => `${r.name} ${r.stats.completed}/${r.stats.added}`).join(', '),
          pass: rows.every((r) => r.stats.completed === r.stats.added && r.stats.added > 0),
        },
      ],
      notes: [
        [
          'A request that waited for its task would take at least 500 ms; the p90 column shows that none did. Absolute',
          'latencies include the client (Node `http`, keep-alive) and, for workerd and edge-runtime, their host process.',
        ].join('\n'),
      ],
    }
  } finally {
    closeAgents()
    await Promise.all(Object.values(servers).map((s) => s.stop()))
  }
}

if (isMain(import.meta.url)) runAlone(clientWait).finally(killAll)
