import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { behaviourSuite } from '../behaviour-suite.ts'
import { passThroughSuite } from '../pass-through-suite.ts'
import { stallingClient } from '../stalling-client.ts'
import { lifetimeChecks } from './lifetime-checks.ts'
import { rulesFor, runtimeRun, titleOf } from './matrix.ts'
import { type ServerProcess, startServer } from './process.ts'

const run = runtimeRun('bun')

describe(titleOf(run), () => {
  let server: ServerProcess
  beforeAll(async () => {
    server = await startServer('node_modules/.bin/bun', ['test/runtimes/servers/bun.ts'], { ready: /listening on (http:\/\/\S+)/ })
  })
  afterAll(() => server?.stop())
  const target = () => ({ fetch: (path: string, init?: RequestInit) => fetch(server.base + path, init) })
  lifetimeChecks(run, target)
  behaviourSuite(target, rulesFor(run))
  passThroughSuite(() => ({ ...target(), origin: server.base }), { stallingClient })

  it('Bun: a buffered body past the 64 KiB peek goes out untouched, with the Content-Length bare Hono sends', async () => {
    // The Context noted it buffered when it made it: no clone, no wrapper, so Bun sends its length.
    const bytes = 8 * 1024 * 1024
    const heads = []
    for (const path of [`/pt/bare/buffer/bun-length-bare?bytes=${bytes}`, `/pt/mw/buffer/bun-length-mw?bytes=${bytes}`]) {
      const res = await fetch(server.base + path)
      heads.push([res.headers.get('content-length'), res.headers.get('transfer-encoding'), (await res.arrayBuffer()).byteLength])
    }
    expect(heads).toEqual([
      [String(bytes), null, bytes],
      [String(bytes), null, bytes],
    ])
  })
})
