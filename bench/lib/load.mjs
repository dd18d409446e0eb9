// Load generation: wrk (a C client, Debian package `wrk`) when it is installed, autocannon otherwise;
// a plain keep-alive client for one-at-a-time latency.
import { execFile } from 'node:child_process'
import http from 'node:http'
import path from 'node:path'
import autocannon from 'autocannon'
import { benchDir } from './paths.mjs'
import { commandPath } from './proc.mjs'
import { percentile } from './stats.mjs'

const wrkPath = process.env.BENCH_GENERATOR === 'autocannon' ? undefined : commandPath('wrk')
if (process.env.BENCH_GENERATOR === 'wrk' && !wrkPath)
  throw new Error('BENCH_GENERATOR=wrk, but wrk is not installed (Debian: apt-get install wrk)')

/**
 * The load generator of this run: `wrk -t1` when it is installed (it leaves the server most of the CPU on
 * a small machine), `autocannon` otherwise or with `BENCH_GENERATOR=autocannon`.
 */
export const generator = wrkPath ? 'wrk' : 'autocannon'

/** How the generator is called, for the reports: `wrk -t1 -c50 -d3s`. */
export const generatorCommand = ({ connections = 50, duration = 3 } = {}) =>
  generator === 'wrk' ? `wrk -t1 -c${connections} -d${duration}s` : `autocannon -c ${connections} -d ${duration}`

const wrk = ({ url, connections, duration, stopAfter }) =>
  new Promise((resolve, reject) => {
    const args = [
      '-t1',
      `-c${connections}`,
      `-d${Math.max(1, Math.round(duration))}s`,
      '--timeout',
      '10s',
      '-s',
      path.join(benchDir, 'lib/wrk-report.lua'),
      url,
    ]
    const env = stopAfter ? { ...process.env, WRK_STOP_AFTER: String(stopAfter) } : process.env
    const child = execFile(wrkPath, args, { encoding: 'utf8', env }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`wrk ${args.join(' ')}: ${error.message}\n${stderr}`))
      const line = stdout.split('\n').find((l) => l.startsWith('{'))
      if (!line) return reject(new Error(`wrk printed no summary:\n${stdout}\n${stderr}`))
      const r = JSON.parse(line)
      const seconds = r.duration / 1e6
      resolve({
        generator: 'wrk',
        requests: r.requests,
        errors: r.connect + r.read + r.write + r.status + r.timeout,
        seconds,
        rps: r.requests / seconds,
        p50: r.p50 / 1000,
        p99: r.p99 / 1000,
      })
    })
    // wrk-report.lua has seen its `stopAfter` responses: SIGINT ends wrk with its summary.
    if (stopAfter) child.stderr?.on('data', (chunk) => String(chunk).includes('wrk-report: stopped') && child.kill('SIGINT'))
  })

/**
 * Loads `url` with `connections` kept-alive connections for `duration` seconds (whole seconds with wrk)
 * and returns requests, requests per second and latency percentiles in ms, with the generator's name.
 */
export const load = ({ url, connections = 50, duration = 3 }) =>
  wrkPath ? wrk({ url, connections, duration }) : cannon({ url, connections, duration })

/**
 * Loads `url` until `requests` were answered (wrk stops itself once the requests still missing have
 * been answered, or after `piece` seconds, by default 60; a few more may arrive on its other
 * connections); returns the total and the generator's name. Each new piece opens its connections
 * anew, so a long piece keeps the cost of connecting out of the figures.
 */
export const loadRequests = async ({ url, connections = 50, requests, piece }) => {
  if (!wrkPath) {
    const run = await cannon({ url, connections, amount: requests })
    return { generator: 'autocannon', requests: run.requests, errors: run.errors }
  }
  let total = 0
  let errors = 0
  for (let empty = 0; total < requests; ) {
    const run = await wrk({ url, connections, duration: piece ?? 60, stopAfter: requests - total })
    // A server that is still compiling (under valgrind, say) may answer nothing for a while; one that is gone errs.
    empty = run.requests === 0 ? empty + 1 : 0
    if (empty > 0 && (run.errors > 0 || empty >= 30)) {
      throw new Error(`${url}: no request answered in ${run.seconds.toFixed(1)} s (${run.errors} errors)`)
    }
    total += run.requests
    errors += run.errors
  }
  return { generator: 'wrk', requests: total, errors }
}

/**
 * Runs autocannon against `url` for `duration` seconds (or `amount` requests) and returns requests
 * per second and latency percentiles in ms (from every response, not autocannon's whole-ms histogram).
 */
export const cannon = ({ url, connections = 50, duration = 3, amount }) =>
  new Promise((resolve, reject) => {
    const latencies = []
    const started = performance.now()
    const instance = autocannon({ url, connections, duration, amount, pipelining: 1, timeout: 10 }, (error, result) => {
      if (error) return reject(error)
      const seconds = (performance.now() - started) / 1000
      latencies.sort((a, b) => a - b)
      resolve({
        generator: 'autocannon',
        requests: result.requests.total,
        ok: result['2xx'],
        errors: result.errors + result.timeouts + result.non2xx,
        seconds,
        rps: result.requests.total / result.duration,
        p50: percentile(latencies, 0.5),
        p99: percentile(latencies, 0.99),
      })
    })
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      latencies.push(responseTime)
    })
  })

const agents = new Map()

/** One GET on a kept-alive connection; resolves with milliseconds until the last byte of the body. */
export const timedGet = (url) => {
  const { origin } = new URL(url)
  let agent = agents.get(origin)
  if (!agent) {
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    agents.set(origin, agent)
  }
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const req = http.get(url, { agent }, (res) => {
      res.on('data', () => {})
      res.on('end', () => {
        const ms = performance.now() - started
        if (res.statusCode !== 200) reject(new Error(`GET ${url}: ${res.statusCode}`))
        else resolve(ms)
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${url}: timeout`)))
  })
}

export const closeAgents = () => {
  for (const agent of agents.values()) agent.destroy()
  agents.clear()
}

/** GET or POST returning parsed JSON (the servers' `/__stats` and `/__gc`). */
export const getJson = async (url, method = 'GET') => {
  const res = await fetch(url, { method })
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status}`)
  return res.json()
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `/__stats` until every added task has completed, or `timeout` ms pass. */
export const waitForTasks = async (server, timeout = 15_000) => {
  const deadline = performance.now() + timeout
  for (;;) {
    const stats = await getJson(`${server.url}/__stats`)
    if (stats.completed >= stats.added || performance.now() > deadline) return stats
    await sleep(50)
  }
}

/** The load generator of this run (see `generator`) as `{ name, run }`, `run` taking `load()`'s options. */
export const loadGenerator = () => ({ name: generator, run: load })
