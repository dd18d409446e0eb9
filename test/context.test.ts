import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createContextApp, type Seen } from './fixtures/context-app.ts'
import { type ServerProcess, startServer } from './runtimes/process.ts'

// Tasks run in the async context of the request that added them (docs/design.md, "Context travels with the work"), over real
// sockets: on Node the tasks start from the ServerResponse's 'close', which has no context of its own.
const REQUESTS = 200

interface Served {
  base: string
  stop(): Promise<void>
}

const expectOwnContexts = async (served: () => Served, round: string): Promise<void> => {
  const { base } = served()
  const ids = Array.from({ length: REQUESTS }, (_, i) => `req-${i}`)
  // All requests answer while their tasks wait at the round's gate: 200 requests' tasks in flight together.
  const bodies = await Promise.all(ids.map(async (id) => (await fetch(`${base}/ctx/${round}/${id}`)).text()))
  expect(bodies).toEqual(ids)
  await (await fetch(`${base}/_/open/${round}`, { method: 'POST' })).body?.cancel()
  const seen = (await (await fetch(`${base}/_/seen/${round}/${REQUESTS}`)).json()) as Seen[]
  expect(seen).toHaveLength(REQUESTS)
  expect(seen.filter((s) => s.task !== s.id || s.nested !== s.id)).toEqual([])
  expect(new Set(seen.map((s) => s.id)).size).toBe(REQUESTS)
}

const cases: [title: string, start: () => Promise<Served>][] = [
  [
    'Node (@hono/node-server)',
    () =>
      new Promise((resolve) => {
        const server = serve({ fetch: createContextApp().app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) =>
          resolve({ base: `http://127.0.0.1:${info.port}`, stop: () => new Promise((done) => server.close(() => done())) }),
        )
      }),
  ],
  [
    'Bun',
    async () => {
      const server: ServerProcess = await startServer('node_modules/.bin/bun', ['test/runtimes/servers/context.ts'], {
        ready: /listening on (http:\/\/\S+)/,
      })
      return { base: server.base, stop: () => server.stop() }
    },
  ],
  [
    'Deno',
    async () => {
      const args = [
        'run',
        '--node-modules-dir=manual',
        '--no-lock',
        '--cached-only',
        '--no-prompt',
        '--allow-net=127.0.0.1',
        'test/runtimes/servers/context.ts',
      ]
      const server = await startServer('node_modules/.bin/deno', args, {
        env: { DENO_NO_UPDATE_CHECK: '1' },
        ready: /listening on (http:\/\/\S+)/,
      })
      return { base: server.base, stop: () => server.stop() }
    },
  ],
]

for (const [title, start] of cases) {
  describe(`${title}: tasks run in their request's async context [design: Context travels with the work]`, () => {
    let served: Served | undefined
    beforeAll(async () => {
      served = await start()
    })
    afterAll(() => served?.stop())

    it(`getContext() in a task and in the task it adds gives that request's context, ${REQUESTS} requests at once`, async () => {
      await expectOwnContexts(() => served as Served, 'concurrent')
    })

    // Node's channel is tested in test/tracing-channel.test.ts; here the lookup through
    // process.getBuiltinModule on the other runtimes (test/runtimes/servers/context.ts subscribes).
    if (title !== 'Node (@hono/node-server)') {
      it('publishes start, end and error for each attempt on the tracing channel', async () => {
        const { base } = served as Served
        expect(await (await fetch(`${base}/channel`)).text()).toBe('ok')
        let events: string[] = []
        // The two tasks run after the response: read until the second has been published.
        while (!events.includes('end fails error')) events = (await (await fetch(`${base}/_/channel`)).json()) as string[]
        expect(events).toEqual([
          'start succeeds',
          'end succeeds',
          'asyncStart succeeds success',
          'asyncEnd succeeds success',
          'start fails',
          'error fails error',
          'end fails error',
        ])
      })
    }
  })
}
