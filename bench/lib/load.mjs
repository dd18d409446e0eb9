// Load generation: autocannon for throughput, a plain keep-alive client for one-at-a-time latency.
import { execFile, spawnSync } from 'node:child_process'
import http from 'node:http'
import autocannon from 'autocannon'
import { percentile } from './stats.mjs'

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

/** Whether the C load generator `wrk` is installed (it leaves the server more of a 2-core machine than autocannon). */
export const hasWrk = () => spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined

/** `wrk` against `url`: requests per second and latency percentiles in ms, like `cannon()`. */
export const wrk = ({ url, connections = 50, duration = 3, threads = 1 }) =>
  new Promise((resolve, reject) => {
    execFile('wrk', ['-t', String(threads), '-c', String(connections), '-d', `${duration}s`, '--latency', url], (error, stdout) => {
      if (error) return reject(error)
      const number = (pattern) => Number(pattern.exec(stdout)?.[1])
      const ms = (label) => {
        const match = new RegExp(`${label}\\s+([\\d.]+)(us|ms|s)`).exec(stdout)
        if (!match) return Number.NaN
        return Number(match[1]) * { us: 0.001, ms: 1, s: 1000 }[match[2]]
      }
      const requests = number(/(\d+) requests in/)
      const non2xx = number(/Non-2xx or 3xx responses: (\d+)/) || 0
      const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout)
      resolve({
        requests,
        errors: non2xx + (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0),
        rps: number(/Requests\/sec:\s+([\d.]+)/),
        p50: ms('50%'),
        p99: ms('99%'),
      })
    })
  })

/** The load generator of this machine: wrk if installed, autocannon otherwise. */
export const loadGenerator = () => (hasWrk() ? { name: 'wrk', run: wrk } : { name: 'autocannon', run: cannon })
