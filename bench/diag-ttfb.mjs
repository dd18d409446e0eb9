// Diagnostics for issue 9 point 3: TTFB of the 100 MiB pull body through each layer of src/runtime/web-body.ts
// (bench/servers/ttfb-diag.mjs), one server per runtime, the routes interleaved request by request as in the
// streaming section. Prints, per route, the median TTFB over the rounds and its difference from bare.
//   DIAG_RUNTIMES=bun,workerd,edge-runtime DIAG_ROUTES=bare,bare2,task,wf DIAG_ROUNDS=8 DIAG_N=60 node bench/diag-ttfb.mjs
// Wrap it in `flock /tmp/bench.lock` like every benchmark on a shared machine.
import http from 'node:http'
import { killAll } from './lib/proc.mjs'
import { runtimes } from './lib/servers.mjs'
import { median, rotate } from './lib/stats.mjs'

const routes = (process.env.DIAG_ROUTES ?? 'bare,bare2,mounted,task,wf,wrap,hwm0,synchwm0,throw,tee,p0,p1,p2,timerclear').split(',')
const names = (process.env.DIAG_RUNTIMES ?? 'bun,workerd,edge-runtime').split(',')
const rounds = Number(process.env.DIAG_ROUNDS ?? 8)
const n = Number(process.env.DIAG_N ?? 60)

/** Milliseconds from the connect of a new connection to the first byte of the body. */
const ttfb = (url) =>
  new Promise((resolve, reject) => {
    let t0
    const req = http.get(url, { agent: false })
    req.on('socket', (socket) =>
      socket.once('connect', () => {
        t0 = performance.now()
      }),
    )
    req.on('error', reject)
    req.on('response', (res) =>
      res.once('data', () => {
        resolve(performance.now() - t0)
        req.destroy()
      }),
    )
  })

try {
  for (const name of names) {
    const server = await runtimes[name]('diag')
    const url = (route) => `${server.url}/${route}`
    for (const route of routes) for (let i = 0; i < 20; i++) await ttfb(url(route))
    const medians = Object.fromEntries(routes.map((route) => [route, []]))
    for (let round = 0; round < rounds; round++) {
      const times = Object.fromEntries(routes.map((route) => [route, []]))
      for (let i = 0; i < n; i++) for (const route of rotate(routes, i + round)) times[route].push(await ttfb(url(route)))
      for (const route of routes) medians[route].push(median(times[route]))
    }
    const bare = median(medians.bare)
    console.log(`${name}:`)
    for (const route of routes) {
      const t = median(medians[route])
      console.log(
        `  ${route.padEnd(12)} ${(t * 1000).toFixed(0).padStart(5)} µs  ${t >= bare ? '+' : ''}${((t - bare) * 1000).toFixed(0)} µs`,
      )
    }
    await server.stop()
  }
} finally {
  killAll()
}
