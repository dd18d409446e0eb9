/**
 * The load test's smaller sibling inside workerd (miniflare, no nodejs_compat): 5,000 requests at
 * concurrency 50 over loopback, each adding two tasks that `ctx.waitUntil` keeps alive. Every task
 * added runs, and no rejection goes unhandled in the isolate. (workerd gives a script no way to
 * force a GC, so memory is measured on Node only: test/load.test.ts.)
 */
import autocannon from 'autocannon'
import { build } from 'esbuild'
import { convertV4MiniflareOptions, Miniflare } from 'miniflare'
import { afterAll, describe, expect, it } from 'vitest'
import { root } from './_support/processes.ts'

const REQUESTS = 5_000
const CONCURRENCY = 50

interface Stats {
  added: number
  ran: number
  failed: number
  unhandledRejections: number
}

describe('load inside workerd', () => {
  let mf: Miniflare | undefined
  afterAll(() => mf?.dispose())

  it(`runs every task of ${REQUESTS} requests at concurrency ${CONCURRENCY}`, async () => {
    const bundle = await build({
      absWorkingDir: root,
      entryPoints: ['test/fixtures/load-worker.ts'],
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    })
    mf = new Miniflare(
      convertV4MiniflareOptions({
        modules: true,
        script: bundle.outputFiles[0]!.text,
        compatibilityDate: '2026-04-01',
        compatibilityFlags: [],
        host: '127.0.0.1',
        port: 0,
      }),
    )
    const url = await mf.ready
    const stats = async (): Promise<Stats> => (await fetch(new URL('/_/stats', url))).json() as Promise<Stats>

    // The isolate's counter sees a rejection nobody handles: the zero below means something.
    expect(await (await fetch(new URL('/_/unhandled', url))).text()).toBe('ok')
    while ((await stats()).unhandledRejections < 1) await new Promise((resolve) => setTimeout(resolve, 10))

    const started = performance.now()
    const result = await autocannon({ url: new URL('/work/1', url).href, connections: CONCURRENCY, amount: REQUESTS, timeout: 10 })
    const seconds = (performance.now() - started) / 1000
    expect(result['2xx']).toBe(REQUESTS)
    expect(result.errors + result.timeouts + result.non2xx).toBe(0)

    // waitUntil work finishes after the responses: poll until it has (the test's timeout bounds it).
    let after = await stats()
    while (after.ran < after.added) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      after = await stats()
    }
    expect(after).toEqual({ added: 2 * REQUESTS, ran: 2 * REQUESTS, failed: 0, unhandledRejections: 1 })
    console.log(
      `[load:workerd] ${REQUESTS} requests at concurrency ${CONCURRENCY} in ${seconds.toFixed(1)} s ` +
        `(${Math.round(REQUESTS / seconds)} req/s, p99 ${result.latency.p99} ms); tasks added ${after.added}, ran ${after.ran}`,
    )
  }, 30_000)
})
