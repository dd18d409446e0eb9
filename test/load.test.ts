/**
 * Load, bounded for CI and loopback only: 20,000 requests at concurrency 100 against a real
 * @hono/node-server in its own process (test/fixtures/load-server.ts), each adding two tasks.
 * Afterwards every task added has run, no rejection went unhandled (but the one made on purpose to
 * show that the counter counts), and the heap after a full
 * GC is back within MEMORY_BOUND of its level after a warm-up of the same work.
 */
import autocannon from 'autocannon'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bundleFixture, killAll, type Proc, portOf, startProcess } from './_support/processes.ts'

const WARMUP = 2_000
const REQUESTS = 20_000
const CONCURRENCY = 100
/** How far above its warm level the heap may settle after the load, in bytes. */
const MEMORY_BOUND = 2 * 1024 * 1024

interface Settled {
  added: number
  ran: number
  failed: number
  unhandledRejections: number
  uncaughtExceptions: number
  drainedNow: number
  pending: number
  heapUsed: number
  rss: number
  gc: boolean
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`

describe('load on a real @hono/node-server', () => {
  let fixture: Awaited<ReturnType<typeof bundleFixture>>
  let proc: Proc
  let base = ''
  beforeAll(async () => {
    fixture = await bundleFixture('test/fixtures/load-server.ts')
    proc = startProcess('node', fixture.script, { cwd: fixture.dir, nodeArgs: ['--expose-gc'] })
    base = `http://127.0.0.1:${await portOf(proc)}`
  })
  afterAll(async () => {
    killAll()
    await fixture?.remove()
  })

  const settle = async (): Promise<Settled> => (await fetch(`${base}/_/settle`)).json() as Promise<Settled>

  it(`runs every task of ${REQUESTS} requests at concurrency ${CONCURRENCY}, and the heap settles back near its warm level`, async () => {
    // The server's counter sees a rejection nobody handles: the zero after the load means something.
    expect(await (await fetch(`${base}/_/unhandled`)).text()).toBe('ok')
    const warm = await autocannon({ url: `${base}/work/1`, connections: CONCURRENCY, amount: WARMUP, timeout: 10 })
    expect(warm['2xx']).toBe(WARMUP)
    const warmed = await settle()
    expect(warmed.gc).toBe(true)
    expect(warmed.ran).toBe(2 * WARMUP)
    expect(warmed.unhandledRejections).toBe(1)

    const started = performance.now()
    const result = await autocannon({ url: `${base}/work/2`, connections: CONCURRENCY, amount: REQUESTS, timeout: 10 })
    const seconds = (performance.now() - started) / 1000
    expect(result['2xx']).toBe(REQUESTS)
    expect(result.errors + result.timeouts + result.non2xx).toBe(0)

    const after = await settle()
    const total = WARMUP + REQUESTS
    expect(after).toMatchObject({
      added: 2 * total,
      ran: 2 * total,
      failed: 0,
      unhandledRejections: 1,
      uncaughtExceptions: 0,
      pending: 0,
    })
    const growth = after.heapUsed - warmed.heapUsed
    console.log(
      `[load] ${REQUESTS} requests at concurrency ${CONCURRENCY} in ${seconds.toFixed(1)} s ` +
        `(${Math.round(REQUESTS / seconds)} req/s, p99 ${result.latency.p99} ms); tasks added ${after.added}, ran ${after.ran}; ` +
        `heap after GC: warm ${mb(warmed.heapUsed)}, after ${mb(after.heapUsed)} (${growth >= 0 ? '+' : ''}${mb(growth)}, bound +${mb(MEMORY_BOUND)}); ` +
        `rss ${mb(warmed.rss)} -> ${mb(after.rss)}`,
    )
    expect(growth).toBeLessThan(MEMORY_BOUND)
  }, 45_000)
})
