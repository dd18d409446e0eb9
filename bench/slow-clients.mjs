// 7. Slow clients: 200 raw TCP clients ask for a 10 MiB body (buffered, or a pull stream) and stop reading
// after the first MiB. While they are stalled: the server's peak resident memory (its whole process tree)
// and the latency of another client's small requests, with one task per request against bare Hono.
import net from 'node:net'
import { getJson, sleep, waitForTasks } from './lib/load.mjs'
import { envNumber, isMain, runtimeList } from './lib/main.mjs'
import { killAll, processTree, resetPeak, treeMemory } from './lib/proc.mjs'
import { environment, runAlone } from './lib/report.mjs'
import { runtimes } from './lib/servers.mjs'
import { fmt, median, percentile, rotate } from './lib/stats.mjs'

const MiB = 1024 * 1024
const BODIES = {
  buffered: { path: '/buffer', what: 'buffered: `c.body()` of a 10 MiB Uint8Array made at start-up' },
  streamed: { path: '/pull?mb=10', what: 'streamed: a pull ReadableStream of 10 MiB in 64 KiB chunks' },
}
const VARIANTS = { bare: 'large-bare', tasks: 'large' }
const RSS_LIMIT = 1.2
const LATENCY_LIMIT = 1.5
const DEFAULT_RUNTIMES = ['node', 'bun', 'deno', 'workerd', 'edge-runtime']

/**
 * Opens `count` connections that each send `GET path` and stop reading once `stopAfter` bytes (head
 * included) have arrived. Resolves once all have stopped, or after `timeout` ms, with the sockets.
 */
export const stallClients = ({ port, path, count, stopAfter, timeout }) =>
  new Promise((resolve) => {
    const sockets = []
    let stalled = 0
    let errors = 0
    const started = performance.now()
    const done = () => {
      clearTimeout(timer)
      resolve({ sockets, stalled, errors, ms: performance.now() - started })
    }
    const timer = setTimeout(done, timeout)
    for (let i = 0; i < count; i++) {
      const socket = net.connect({ host: '127.0.0.1', port })
      sockets.push(socket)
      let received = 0
      socket.on('error', () => {
        errors++
      })
      socket.on('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`))
      socket.on('data', (chunk) => {
        received += chunk.length
        if (received < stopAfter) return
        socket.pause()
        socket.removeAllListeners('data')
        if (++stalled === count) done()
      })
    }
  })

/** `GET /small` on a new connection: `{ ms, ok }`, ms to the whole response, or `timeout` and not ok. */
export const timedSmall = (port, timeout = 10_000) =>
  new Promise((resolve) => {
    const started = performance.now()
    const socket = net.connect({ host: '127.0.0.1', port })
    let text = ''
    const finish = (ok) => {
      clearTimeout(timer)
      socket.destroy()
      resolve({ ms: ok ? performance.now() - started : timeout, ok })
    }
    const timer = setTimeout(() => finish(false), timeout)
    const whole = () => text.startsWith('HTTP/1.1 200') && text.includes('{"hello":"world"}')
    socket.on('error', () => finish(false))
    socket.on('connect', () => socket.write(`GET /small HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`))
    socket.setEncoding('latin1')
    socket.on('data', (chunk) => {
      text += chunk
      if (whole()) finish(true)
    })
    socket.on('end', () => finish(whole()))
  })

/**
 * Another client: starts a small request every `interval` ms, whether or not the earlier ones were
 * answered (at most `max`), so that a server that stalls is sampled as often as one that does not.
 * The returned function stops it and resolves with the results (`at`: when each was sent) once every request
 * is answered or timed out.
 */
export const probe = (port, { interval = 20, max = 2_000, timeout } = {}) => {
  const results = []
  const pending = new Set()
  let started = 0
  const timer = setInterval(() => {
    if (started++ >= max) return
    const at = performance.now()
    const request = timedSmall(port, timeout).then((result) => {
      results.push({ ...result, at })
      pending.delete(request)
    })
    pending.add(request)
  }, interval)
  return async () => {
    clearInterval(timer)
    await Promise.all(pending)
    return results
  }
}

/** Median, p90 and max of the probe's latencies (a timed-out request counts with its timeout), and its timeouts. */
const latencyOf = (results) => {
  const sorted = results.map((r) => r.ms).sort((a, b) => a - b)
  return {
    median: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    max: sorted.at(-1),
    requests: results.length,
    timeouts: results.filter((r) => !r.ok).length,
  }
}

/** Reads `path` to its end once (warm-up), on a new connection. */
const readAll = (port, path) =>
  new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.setTimeout(30_000, () => socket.destroy(new Error(`GET ${path}: timeout`)))
    socket.on('error', reject)
    socket.on('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`))
    socket.on('data', () => {})
    socket.on('close', resolve)
  })

/** The server's memory every `interval` ms until stopped: the highest sum of VmRSS over its process tree. */
export const sampler = (pids, interval = 20) => {
  let peak = 0
  const sample = () => {
    peak = Math.max(peak, treeMemory(pids).rss)
  }
  sample()
  const timer = setInterval(sample, interval)
  return () => {
    clearInterval(timer)
    sample()
    return peak
  }
}

/** One measurement on a fresh server: warm-up, then 200 stalled clients, memory and others' latency. */
export const measure = async ({ name, variant, body, clients, stopAfter, stallMs }) => {
  const server = await runtimes[name](VARIANTS[variant])
  const port = Number(server.port)
  const path = BODIES[body].path
  let stall
  try {
    for (let i = 0; i < 30; i++) await timedSmall(port)
    for (let i = 0; i < 2; i++) await readAll(port, path)
    const idleProbe = probe(port)
    await sleep(1_000)
    const idleLatency = latencyOf(await idleProbe())
    const pids = processTree(server.child.pid)
    const idle = treeMemory(pids).rss
    const peakReset = resetPeak(pids)
    const stopSampling = sampler(pids)
    const stopProbe = probe(port)
    stall = await stallClients({ port, path, count: clients, stopAfter, timeout: 20_000 })
    const stalledAt = performance.now()
    await sleep(stallMs)
    const probed = await stopProbe()
    // Sent once every client had stopped reading (the claim), and before, while they read their first MiB
    // (this process reading 200 MiB then slows the probe too).
    const latency = latencyOf(probed.filter((r) => r.at >= stalledAt))
    const rush = latencyOf(probed.filter((r) => r.at < stalledAt))
    const sampledPeak = stopSampling()
    const hwm = treeMemory(pids).hwm
    for (const socket of stall.sockets) socket.destroy()
    // Tasks of cut-off downloads start when the client has gone.
    let tasks
    if (variant === 'tasks') tasks = await waitForTasks(server, 5_000)
    else tasks = await getJson(`${server.url}/__stats`)
    return {
      idle,
      peak: peakReset ? Math.max(hwm, sampledPeak) : sampledPeak,
      sampledPeak,
      idleLatency: idleLatency.median,
      latency: latency.median,
      latencyP90: latency.p90,
      latencyMax: latency.max,
      requests: latency.requests,
      timeouts: latency.timeouts,
      rushLatency: rush.median,
      rushMax: rush.max,
      rushTimeouts: rush.timeouts,
      stalled: stall.stalled,
      stallTime: stall.ms,
      errors: stall.errors,
      tasks,
    }
  } finally {
    for (const socket of stall?.sockets ?? []) socket.destroy()
    await server.stop()
  }
}

export const slowClients = async ({
  rounds = envNumber('BENCH_SLOW_ROUNDS', 3),
  clients = envNumber('BENCH_SLOW_CLIENTS', 200),
  stopAfter = envNumber('BENCH_SLOW_STOP_AFTER', 1) * MiB,
  stallMs = envNumber('BENCH_SLOW_STALL', 2) * 1000,
} = {}) => {
  const env = environment()
  const started = performance.now()
  const names = runtimeList('BENCH_SLOW_RUNTIMES', DEFAULT_RUNTIMES)
  const bodies = runtimeList('BENCH_SLOW_BODIES', Object.keys(BODIES))
  const results = {}
  const failed = {}
  for (let round = 0; round < rounds; round++) {
    for (const name of rotate(names, round)) {
      if (failed[name]) continue
      for (const body of rotate(bodies, round)) {
        const pair = {}
        try {
          for (const variant of (round + names.indexOf(name)) % 2 ? ['bare', 'tasks'] : ['tasks', 'bare']) {
            pair[variant] = await measure({ name, variant, body, clients, stopAfter, stallMs })
          }
        } catch (error) {
          failed[name] = error.message.split('\n')[0]
          console.error(`[slow-clients] ${name} failed:`, error.message)
          break
        }
        results[name] ??= {}
        results[name][body] ??= []
        results[name][body].push(pair)
        console.error(
          `[slow-clients] round ${round + 1}/${rounds} ${name} ${body}: peak ${fmt.mib(pair.bare.peak)} -> ${fmt.mib(pair.tasks.peak)}, latency ${fmt.ms(pair.bare.latency)} -> ${fmt.ms(pair.tasks.latency)}`,
        )
      }
    }
  }

  const rows = Object.keys(results).flatMap((name) =>
    Object.keys(BODIES)
      .filter((body) => results[name][body])
      .map((body) => {
        const pairs = results[name][body]
        const of = (variant, key) => median(pairs.map((p) => p[variant][key]))
        return {
          name,
          body,
          idle: { bare: of('bare', 'idle'), tasks: of('tasks', 'idle') },
          peak: { bare: of('bare', 'peak'), tasks: of('tasks', 'peak') },
          rssRatio: median(pairs.map((p) => p.tasks.peak / p.bare.peak)),
          rssRatios: pairs.map((p) => p.tasks.peak / p.bare.peak),
          growth: {
            bare: median(pairs.map((p) => p.bare.peak - p.bare.idle)),
            tasks: median(pairs.map((p) => p.tasks.peak - p.tasks.idle)),
          },
          latency: { bare: of('bare', 'latency'), tasks: of('tasks', 'latency') },
          p90: { bare: of('bare', 'latencyP90'), tasks: of('tasks', 'latencyP90') },
          idleLatency: { bare: of('bare', 'idleLatency'), tasks: of('tasks', 'idleLatency') },
          latencyRatio: median(pairs.map((p) => p.tasks.latency / p.bare.latency)),
          latencyRatios: pairs.map((p) => p.tasks.latency / p.bare.latency),
          idleRatio: median(pairs.map((p) => p.tasks.idleLatency / p.bare.idleLatency)),
          stalled: pairs.flatMap((p) => [p.bare.stalled, p.tasks.stalled]),
          stallTime: { bare: of('bare', 'stallTime'), tasks: of('tasks', 'stallTime') },
          max: { bare: of('bare', 'latencyMax'), tasks: of('tasks', 'latencyMax') },
          rush: { bare: of('bare', 'rushLatency'), tasks: of('tasks', 'rushLatency') },
          rushMax: { bare: of('bare', 'rushMax'), tasks: of('tasks', 'rushMax') },
          rushTimeouts: {
            bare: pairs.reduce((n, p) => n + p.bare.rushTimeouts, 0),
            tasks: pairs.reduce((n, p) => n + p.tasks.rushTimeouts, 0),
          },
          requests: { bare: of('bare', 'requests'), tasks: of('tasks', 'requests') },
          timeouts: { bare: pairs.reduce((n, p) => n + p.bare.timeouts, 0), tasks: pairs.reduce((n, p) => n + p.tasks.timeouts, 0) },
          tasks: pairs.map((p) => p.tasks.tasks),
        }
      }),
  )
  const label = (r) => `${r.name}, ${r.body}`
  return {
    id: 'slow-clients',
    title: '7. Slow clients: 200 stalled downloads of 10 MiB',
    env,
    seconds: (performance.now() - started) / 1000,
    intro: [
      `${clients} clients (raw sockets from \`node:net\`) each ask for a 10 MiB body and stop reading after the first`,
      `${fmt.mib(stopAfter)}: ${BODIES.buffered.what}, or ${BODIES.streamed.what}. With the middleware each request adds one`,
      'no-op task; the bare server is the same app without it. Each measurement gets a fresh server: 30 small requests and',
      'two whole downloads of the body to warm it up, its idle RSS, then the stalled clients. Peak RSS is the highest of',
      "VmHWM (reset after the warm-up) and of VmRSS sampled every 20 ms, summed over the server's process tree (workerd",
      'runs as a child of its miniflare host; the sum includes the host). From the moment the clients connect until',
      `${stallMs / 1000} s after the last one stopped reading, another client starts a small request (\`GET /small\`, a new connection`,
      'each) every 20 ms, whether or not the earlier ones were answered, so that a server that stalls is sampled as often',
      'as one that does not; a request unanswered after 10 s counts as 10 s. The latency claim is over the requests sent',
      `once every client had stopped reading (the ${stallMs / 1000} s); idle latency is the same probe for 1 s before the clients.`,
      `${rounds} rounds, the runtimes, bodies and servers in rotating order; ratios are medians of the per-round ratios.`,
    ].join('\n'),
    tables: [
      {
        caption: 'Memory (medians over the rounds):',
        headers: [
          'Runtime, body',
          'idle bare',
          'idle with tasks',
          'peak bare',
          'peak with tasks',
          'growth bare',
          'growth with tasks',
          'peak ratio [range]',
        ],
        rows: rows.map((r) => [
          label(r),
          fmt.mib(r.idle.bare),
          fmt.mib(r.idle.tasks),
          fmt.mib(r.peak.bare),
          fmt.mib(r.peak.tasks),
          fmt.signedMib(r.growth.bare),
          fmt.signedMib(r.growth.tasks),
          `${fmt.ratio(r.rssRatio)} [${fmt.range(r.rssRatios)}]`,
        ]),
      },
      {
        caption: "Other clients' latency once every client had stopped reading (medians over the rounds):",
        headers: [
          'Runtime, body',
          'idle bare / with tasks',
          'stalled: median bare',
          'median with tasks',
          'ratio [range]',
          'idle ratio',
          'p90 bare / with tasks',
          'max bare / with tasks',
          'requests, timed out (all rounds)',
        ],
        rows: rows.map((r) => [
          label(r),
          `${fmt.ms(r.idleLatency.bare, 3)} / ${fmt.ms(r.idleLatency.tasks, 3)}`,
          fmt.ms(r.latency.bare, 3),
          fmt.ms(r.latency.tasks, 3),
          `${fmt.ratio(r.latencyRatio)} [${fmt.range(r.latencyRatios)}]`,
          fmt.ratio(r.idleRatio),
          `${fmt.ms(r.p90.bare, 1)} / ${fmt.ms(r.p90.tasks, 1)}`,
          `${fmt.ms(r.max.bare, 0)} / ${fmt.ms(r.max.tasks, 0)}`,
          `${fmt.int(r.requests.bare)}, ${r.timeouts.bare} / ${fmt.int(r.requests.tasks)}, ${r.timeouts.tasks}`,
        ]),
      },
      {
        caption: [
          "Before that, while the clients connected and read their first MiB: other clients' latency (medians over the",
          'rounds; it includes the load of this process reading 200 MiB, so it is information, not a target), and how long',
          'until every client had its first MiB (20 s at most).',
        ].join('\n'),
        headers: [
          'Runtime, body',
          'median bare / with tasks',
          'max bare / with tasks',
          'timed out (all rounds), bare / with tasks',
          'clients that read their first MiB',
          'time until all had, bare / with tasks',
          'tasks completed / added',
        ],
        rows: rows.map((r) => [
          label(r),
          `${fmt.ms(r.rush.bare, 1)} / ${fmt.ms(r.rush.tasks, 1)}`,
          `${fmt.ms(r.rushMax.bare, 0)} / ${fmt.ms(r.rushMax.tasks, 0)}`,
          `${r.rushTimeouts.bare} / ${r.rushTimeouts.tasks}`,
          `${Math.min(...r.stalled)}-${Math.max(...r.stalled)} of ${clients}`,
          `${fmt.ms(r.stallTime.bare, 0)} / ${fmt.ms(r.stallTime.tasks, 0)}`,
          r.tasks.map((t) => `${t.completed}/${t.added}`).join(', '),
        ]),
      },
    ],
    targets: [
      ...rows.flatMap((r) => {
        return [
          {
            what: `slow clients: peak RSS ratio, ${label(r)}`,
            wanted: `<= ${RSS_LIMIT.toFixed(2)}`,
            measured: `${fmt.ratio(r.rssRatio)} (${fmt.mib(r.peak.bare)} -> ${fmt.mib(r.peak.tasks)})`,
            pass: r.rssRatio <= RSS_LIMIT,
          },
          {
            what: `slow clients: others' latency ratio, ${label(r)}`,
            wanted: `<= ${LATENCY_LIMIT.toFixed(2)}`,
            measured: `${fmt.ratio(r.latencyRatio)} (${fmt.ms(r.latency.bare, 2)} -> ${fmt.ms(r.latency.tasks, 2)})`,
            pass: r.latencyRatio <= LATENCY_LIMIT,
          },
        ]
      }),
      ...Object.entries(failed).map(([name, why]) => ({
        what: `slow clients, ${name}`,
        wanted: 'runs',
        measured: `failed: ${why}`,
        pass: false,
      })),
      {
        what: 'slow clients: every client stalled after its first MiB, the tasks of cut-off downloads ran',
        wanted: `${clients} stalled, completed = added`,
        measured: rows.every((r) => Math.min(...r.stalled) === clients && r.tasks.every((t) => t.completed === t.added))
          ? 'yes, every server'
          : rows
              .filter((r) => Math.min(...r.stalled) < clients || r.tasks.some((t) => t.completed !== t.added))
              .map(label)
              .join('; '),
        pass: rows.every((r) => Math.min(...r.stalled) === clients && r.tasks.every((t) => t.completed === t.added)),
      },
    ],
  }
}

if (isMain(import.meta.url)) runAlone(slowClients).finally(killAll)
