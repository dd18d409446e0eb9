// 6. Streaming: time to first byte of 100 MiB streamed bodies (a pull ReadableStream, Hono's stream() and
// streamSSE()) with one task, against the same app without the middleware, on Node, Bun, Deno, workerd and
// edge-runtime; then the whole bodies read and compared by SHA-256, and every task checked to have run.
import { createHash } from 'node:crypto'
import http from 'node:http'
import { waitForTasks } from './lib/load.mjs'
import { envNumber, isMain, runtimeList } from './lib/main.mjs'
import { killAll } from './lib/proc.mjs'
import { environment, runAlone } from './lib/report.mjs'
import { runtimes } from './lib/servers.mjs'
import { fmt, median, percentile, rotate } from './lib/stats.mjs'
import { chunkBytes, chunkCount, chunkText } from './servers/bodies.mjs'

const ROUTES = ['pull', 'stream', 'sse']
const ROUTE_NAMES = { pull: 'pull ReadableStream', stream: 'stream()', sse: 'streamSSE()' }
// `control` is a second bare server: bare against control is the A/A noise of the run.
const VARIANTS = { bare: 'large-bare', tasks: 'large', control: 'large-bare' }
const LIMIT = 1.1
const TIMEOUT = 60_000
// Headers that differ between any two responses, whoever serves them.
const VOLATILE = new Set(['date'])

/** The SHA-256 and size a route's body must have: the chunks the app makes, framed as SSE events for /sse. */
const expectedBody = (route, n) => {
  const hash = createHash('sha256')
  let bytes = 0
  for (let i = 0; i < n; i++) {
    const chunk = route === 'sse' ? Buffer.from(`data: ${chunkText(i)}\n\n`) : chunkBytes(i)
    hash.update(chunk)
    bytes += chunk.byteLength
  }
  return { hash: hash.digest('hex'), bytes }
}

/**
 * One GET on a new connection. Times from the socket's connect to the response head and to the first
 * byte of the body; then closes the connection (`full` false) or reads the body to its end and hashes it.
 */
const get = (url, full) =>
  new Promise((resolve, reject) => {
    let t0 = performance.now()
    const req = http.get(url, { agent: false })
    req.on('socket', (socket) =>
      socket.once('connect', () => {
        t0 = performance.now()
      }),
    )
    req.setTimeout(TIMEOUT, () => req.destroy(new Error(`GET ${url}: no data for ${TIMEOUT} ms`)))
    req.on('error', reject)
    req.on('response', (res) => {
      const head = performance.now() - t0
      res.on('error', reject)
      if (res.statusCode !== 200) {
        req.destroy()
        return reject(new Error(`GET ${url}: ${res.statusCode}`))
      }
      let first
      if (!full) {
        res.once('data', () => {
          first = performance.now() - t0
          req.destroy()
          resolve({ head, first })
        })
        return
      }
      const hash = createHash('sha256')
      let bytes = 0
      res.on('data', (chunk) => {
        first ??= performance.now() - t0
        hash.update(chunk)
        bytes += chunk.length
      })
      res.on('end', () => {
        const headers = Object.fromEntries(Object.entries(res.headers).filter(([k]) => !VOLATILE.has(k)))
        resolve({ head, first, last: performance.now() - t0, bytes, hash: hash.digest('hex'), headers })
      })
    })
  })

/** The names of the headers whose values differ between two responses, or 'same'. */
const headerDiff = (a, b) => {
  const names = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]).sort()
  return names.length ? names.map((k) => `${k}: ${a[k] ?? '(none)'} -> ${b[k] ?? '(none)'}`).join('; ') : 'same'
}

export const streaming = async ({
  rounds = envNumber('BENCH_STREAM_ROUNDS', 7),
  perRound = envNumber('BENCH_STREAM_SAMPLES', 30),
  fullReads = envNumber('BENCH_STREAM_FULL_READS', 2),
  mb = envNumber('BENCH_STREAM_MB', 100),
} = {}) => {
  const env = environment()
  const started = performance.now()
  const n = chunkCount(String(mb))
  const names = runtimeList('BENCH_STREAM_RUNTIMES', Object.keys(runtimes))
  const servers = {}
  const failed = {}
  await Promise.all(
    names.map(async (name) => {
      try {
        // One after the other: the two bare servers of workerd and edge-runtime share one bundle file.
        const three = {}
        for (const [key, variant] of Object.entries(VARIANTS)) three[key] = await runtimes[name](variant)
        servers[name] = three
      } catch (error) {
        failed[name] = error.message.split('\n')[0]
        console.error(`[streaming] ${name} did not start:`, error.message)
      }
    }),
  )
  const running = names.filter((name) => servers[name])
  const url = (name, variant, route) => `${servers[name][variant].url}/${route}?mb=${mb}`
  try {
    // Warm-up: the JIT, the first connections, a short body read to its end.
    for (const name of running) {
      for (const variant of ['bare', 'tasks', 'control']) {
        for (const route of ROUTES) {
          await get(`${servers[name][variant].url}/${route}?mb=1`, true)
          for (let i = 0; i < 5; i++) await get(url(name, variant, route), false)
        }
      }
    }

    // Time to first byte: the two variants alternate, request by request, in rotating order.
    const samples = Object.fromEntries(
      running.map((name) => [
        name,
        Object.fromEntries(ROUTES.map((route) => [route, { bare: [], tasks: [], head: { bare: [], tasks: [] }, ratios: [], aa: [] }])),
      ]),
    )
    for (let round = 0; round < rounds; round++) {
      for (const name of rotate(running, round)) {
        const times = Object.fromEntries(ROUTES.map((route) => [route, { bare: [], tasks: [], control: [] }]))
        for (let i = 0; i < perRound; i++) {
          for (const route of rotate(ROUTES, i + round)) {
            for (const variant of rotate(Object.keys(VARIANTS), i + round)) {
              const { head, first } = await get(url(name, variant, route), false)
              times[route][variant].push(first)
              if (variant !== 'control') samples[name][route].head[variant].push(head)
            }
          }
        }
        for (const route of ROUTES) {
          const s = samples[name][route]
          const t = times[route]
          s.bare.push(...t.bare)
          s.tasks.push(...t.tasks)
          s.ratios.push(median(t.tasks) / median(t.bare))
          s.aa.push(median(t.control) / median(t.bare))
        }
      }
      console.error(
        `[streaming] round ${round + 1}/${rounds}: ${running
          .map((name) => `${name} ${ROUTES.map((r) => fmt.ratio(samples[name][r].ratios.at(-1))).join('/')}`)
          .join(', ')}`,
      )
    }

    // Whole bodies: read to the end, hashed, and timed to the last byte.
    const expected = Object.fromEntries(ROUTES.map((route) => [route, expectedBody(route, n)]))
    const reads = Object.fromEntries(
      running.map((name) => [name, Object.fromEntries(ROUTES.map((route) => [route, { bare: [], tasks: [] }]))]),
    )
    for (let k = 0; k < fullReads; k++) {
      for (const name of rotate(running, k)) {
        for (const route of ROUTES) {
          for (const variant of k % 2 ? ['bare', 'tasks'] : ['tasks', 'bare']) {
            reads[name][route][variant].push(await get(url(name, variant, route), true))
          }
        }
      }
      console.error(`[streaming] whole bodies ${k + 1}/${fullReads} read`)
    }
    const stats = {}
    for (const name of running) stats[name] = await waitForTasks(servers[name].tasks, 10_000)

    const rows = running.flatMap((name) =>
      ROUTES.map((route) => {
        const s = samples[name][route]
        const r = reads[name][route]
        const all = [...r.bare, ...r.tasks]
        return {
          name,
          route,
          bare: median(s.bare),
          tasks: median(s.tasks),
          bareP90: percentile(
            [...s.bare].sort((a, b) => a - b),
            0.9,
          ),
          tasksP90: percentile(
            [...s.tasks].sort((a, b) => a - b),
            0.9,
          ),
          headBare: median(s.head.bare),
          headTasks: median(s.head.tasks),
          ratio: median(s.ratios),
          ratios: s.ratios,
          aa: median(s.aa),
          lastBare: median(r.bare.map((x) => x.last)),
          lastTasks: median(r.tasks.map((x) => x.last)),
          hashes: all.every((x) => x.hash === expected[route].hash && x.bytes === expected[route].bytes),
          sizes: [...new Set(all.map((x) => x.bytes))],
          headers: headerDiff(r.bare[0].headers, r.tasks[0].headers),
          stats: stats[name],
        }
      }),
    )
    const hashesOk = rows.every((r) => r.hashes)
    const tasksOk = running.every((name) => stats[name].completed === stats[name].added && stats[name].added > 0)
    return {
      id: 'streaming',
      title: '6. Time to first byte of streamed bodies',
      env,
      seconds: (performance.now() - started) / 1000,
      intro: [
        `Three routes stream ${mb} MiB in 64 KiB chunks made on demand: \`c.body()\` of a pull \`ReadableStream\`, Hono's`,
        '`stream()` writing them, and `streamSSE()` sending each as one event. With the middleware each route adds one no-op',
        'task; the bare server is the same app without the middleware. Time to first byte is from the connect of a new',
        'connection to the first byte of the body at the client (Node `http`), which then closes the connection. A third',
        'server, bare too, is the A/A control. The three servers of a runtime take turns request by request;',
        `${rounds} rounds of ${perRound} requests per route and server, the runtimes, routes and servers in rotating order. The ratio`,
        'is the median over the rounds of median(with task) / median(bare); A/A is median(control) / median(bare) in the same',
        'rounds, the noise of the run, and a ratio closer to the target than that is inconclusive. Then every body is read',
        `to its end ${fullReads} times on the bare server and the one with the task, and its SHA-256 compared with the one computed`,
        'here from the same chunks.',
      ].join('\n'),
      tables: [
        {
          headers: [
            'Runtime',
            'route',
            'TTFB bare',
            'TTFB with task',
            'p90 bare',
            'p90 with task',
            'ratio [range]',
            'A/A',
            'head bare / with task',
          ],
          rows: rows.map((r) => [
            r.name,
            ROUTE_NAMES[r.route],
            fmt.ms(r.bare, 3),
            fmt.ms(r.tasks, 3),
            fmt.ms(r.bareP90, 3),
            fmt.ms(r.tasksP90, 3),
            `${fmt.ratio(r.ratio)} [${fmt.range(r.ratios)}]`,
            fmt.ratio(r.aa),
            `${fmt.ms(r.headBare, 3)} / ${fmt.ms(r.headTasks, 3)}`,
          ]),
        },
        {
          caption: [
            `The whole bodies (${fullReads} reads per server and route; time to the last byte, median): SHA-256 equal to the expected`,
            'one for every read of both servers, and the response headers of the two servers (without `date`).',
          ].join('\n'),
          headers: [
            'Runtime',
            'route',
            'last byte bare',
            'last byte with task',
            'ratio',
            'bytes',
            'SHA-256 bare = with task = expected',
            'headers',
          ],
          rows: rows.map((r) => [
            r.name,
            ROUTE_NAMES[r.route],
            fmt.ms(r.lastBare, 0),
            fmt.ms(r.lastTasks, 0),
            fmt.ratio(r.lastTasks / r.lastBare),
            r.sizes.map((b) => fmt.int(b)).join(', '),
            r.hashes ? 'yes' : '**NO**',
            r.headers,
          ]),
        },
      ],
      targets: [
        ...rows.map((r) => {
          const noise = Math.abs(1 - r.aa)
          const pass = r.ratio + noise <= LIMIT
          const missed = r.ratio - noise > LIMIT
          return {
            what: `TTFB ratio, ${ROUTE_NAMES[r.route]} ${mb} MiB, ${r.name}`,
            wanted: `<= ${LIMIT.toFixed(2)}`,
            measured: `${fmt.ratio(r.ratio)} (A/A noise ±${noise.toFixed(3)})`,
            pass,
            ...(pass || missed ? {} : { verdict: 'inconclusive' }),
          }
        }),
        ...Object.entries(failed).map(([name, why]) => ({
          what: `TTFB ratio, ${name}`,
          wanted: `<= ${LIMIT.toFixed(2)}`,
          measured: `did not start: ${why}`,
          pass: false,
        })),
        {
          what: `streamed ${mb} MiB bodies: SHA-256 with the middleware = bare = expected`,
          wanted: 'every read',
          measured: hashesOk
            ? `${rows.length * fullReads * 2} reads, all equal`
            : rows
                .filter((r) => !r.hashes)
                .map((r) => `${r.name} ${r.route} differs`)
                .join(', '),
          pass: hashesOk,
        },
        {
          what: 'streaming: every task ran',
          wanted: 'completed = added',
          measured: running.map((name) => `${name} ${stats[name].completed}/${stats[name].added}`).join(', '),
          pass: tasksOk,
        },
      ],
    }
  } finally {
    await Promise.all(Object.values(servers).flatMap((s) => Object.values(s).map((server) => server.stop())))
  }
}

if (isMain(import.meta.url)) runAlone(streaming).finally(killAll)
