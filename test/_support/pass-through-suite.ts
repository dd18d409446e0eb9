/**
 * The pass-through suite: docs/design.md, "The response passes through untouched" against the routes of test/fixtures/pass-through-routes.ts,
 * through any `fetch` (app.request, a real socket, another runtime's process). The same route with
 * and without the middleware must send the same status, headers and bytes; a streamed body is
 * passed on as it is read, never read ahead of its reader, also when its chunks are ready at once
 * or it never ends; and its task still runs once the client has gone.
 */
import { describe, expect, it } from 'vitest'
import { CHUNK, type PassThroughState, SMALL_ROUTES } from '../fixtures/pass-through-routes.ts'

/** How the suite reaches a server that serves `createScenarioApp()`. */
export interface PassThroughTarget {
  fetch(path: string, init?: RequestInit): Promise<Response>
  /** `http://host:port` of the real server, for the raw-socket client; absent in process. */
  origin?: string
}

/** What a runtime does differently by design. */
export interface PassThroughRules {
  /**
   * Nothing but the middleware sits between the app and the test's reader (app.request, a
   * Worker's fetch inside workerd): the suite then checks the read-ahead bound exactly. Over HTTP,
   * socket buffers on both sides hold a few MiB more, as they do without the middleware.
   */
  inProcess?: boolean
  /**
   * Over HTTP: a raw-socket client (test/_support/stalling-client.ts) that sends `GET path`, reads `bytes`
   * of the reply and then stops reading, as a client on a slow link would.
   */
  stallingClient?: (origin: string, path: string, bytes: number) => Promise<{ destroy(): void }>
}

/** The most of the body the middleware may read ahead of its reader (docs/behaviour.md: 64 KiB), plus the source's own one-chunk queue. */
const READ_AHEAD = 64 * 1024 + 2 * CHUNK.byteLength
/** Over HTTP: far above what socket buffers hold, far below the 100 MiB a whole read would take. */
const BUFFERED_OVER_HTTP = 32 * 1024 * 1024
const LARGE = 100 * 1024 * 1024

let counter = 0
const newRun = (): string => `pt${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`

/** Status and headers, read before anything else: @hono/node-server's Response fills in defaults on first read. */
const head = (res: Response) => ({
  headers: [...res.headers].filter(([name]) => name !== 'date'),
  status: res.status,
  statusText: res.statusText,
})

const sha256 = async (bytes: ArrayBuffer): Promise<string> =>
  [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((b) => b.toString(16).padStart(2, '0')).join('')

/** Registers the pass-through scenarios against `target()` (called inside each test). */
export const passThroughSuite = (target: () => PassThroughTarget, rules: PassThroughRules = {}): void => {
  const stateOf = async (run: string): Promise<PassThroughState> =>
    (await target().fetch(`/_/pt/${run}`)).json() as Promise<PassThroughState>

  /** Polls the run's state until `done` holds; the test's own timeout bounds it. */
  const waitFor = async (run: string, done: (state: PassThroughState) => boolean): Promise<PassThroughState> => {
    for (;;) {
      const state = await stateOf(run)
      if (done(state)) return state
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }

  const ahead = rules.inProcess ? READ_AHEAD : BUFFERED_OVER_HTTP

  describe('responses pass through untouched [design: The response passes through untouched]', () => {
    for (const route of SMALL_ROUTES) {
      it(`GET and HEAD /${route}: the same status, headers and bytes as without the middleware`, async () => {
        for (const method of ['GET', 'HEAD']) {
          const bare = await target().fetch(`/pt/bare/${route}`, { method, redirect: 'manual' })
          const bareHead = head(bare)
          const withTasks = await target().fetch(`/pt/mw/${route}`, { method, redirect: 'manual' })
          expect(head(withTasks), `${method} /${route}`).toEqual(bareHead)
          expect(new Uint8Array(await withTasks.arrayBuffer())).toEqual(new Uint8Array(await bare.arrayBuffer()))
        }
      })
    }

    it('sends a large streamed body whole and in order, then runs its task', async () => {
      const bytes = 8 * 1024 * 1024 + 1234
      const bare = await (await target().fetch(`/pt/bare/large/${newRun()}?bytes=${bytes}`)).arrayBuffer()
      const run = newRun()
      const res = await target().fetch(`/pt/mw/large/${run}?bytes=${bytes}`)
      const body = await res.arrayBuffer()
      expect(body.byteLength).toBe(bytes)
      expect(await sha256(body)).toBe(await sha256(bare))
      expect((await waitFor(run, (s) => s.taskRan)).taskRan).toBe(true)
    })

    it('sends a buffered body past the 64 KiB peek with the framing bare Hono gives it (its Content-Length, where the runtime sends one)', async () => {
      // The Context noted the body buffered when it made it: no clone, no wrapper.
      const bytes = 1024 * 1024
      const framing = async (path: string) => {
        const res = await target().fetch(`${path}?bytes=${bytes}`)
        const size = (await res.arrayBuffer()).byteLength
        return [res.headers.get('content-length'), res.headers.get('transfer-encoding'), size]
      }
      const bare = await framing(`/pt/bare/buffer/${newRun()}`)
      const run = newRun()
      expect(await framing(`/pt/mw/buffer/${run}`)).toEqual(bare)
      expect((await waitFor(run, (s) => s.taskRan)).taskRan).toBe(true)
    })

    it('sends a large buffered body whole, then runs its task', async () => {
      const bytes = 8 * 1024 * 1024 + 1234
      const bare = await (await target().fetch(`/pt/bare/buffer/${newRun()}?bytes=${bytes}`)).arrayBuffer()
      const run = newRun()
      const body = await (await target().fetch(`/pt/mw/buffer/${run}?bytes=${bytes}`)).arrayBuffer()
      expect(body.byteLength).toBe(bytes)
      expect(await sha256(body)).toBe(await sha256(bare))
      expect((await waitFor(run, (s) => s.taskRan)).taskRan).toBe(true)
    })

    it('passes a 100 MiB stream on as it is read: the first byte comes before the rest is made, and the task waits for the end', async () => {
      const run = newRun()
      const res = await target().fetch(`/pt/mw/large/${run}?bytes=${LARGE}`)
      const reader = res.body!.getReader()
      const first = await reader.read()
      expect(first.value!.byteLength).toBeGreaterThan(0)
      // The reader holds here: the app must not have been asked for much more than it has read.
      const held = await stateOf(run)
      expect(held.produced).toBeLessThanOrEqual(first.value!.byteLength + ahead)
      expect(held.taskRan).toBe(false)
      await reader.cancel()
      const gone = await waitFor(run, (s) => s.taskRan)
      expect(gone.produced).toBeLessThan(LARGE)
    })

    for (const route of ['endless', 'endless-writer']) {
      it(`serves an endless ${route === 'endless' ? 'pull stream' : 'stream() writer'} whose chunks are ready at once: bytes flow, other requests are answered, memory stays bounded, the task runs once the client leaves`, async () => {
        const run = newRun()
        const res = await target().fetch(`/pt/mw/${route}/${run}`)
        const reader = res.body!.getReader()
        let received = 0
        while (received < 1024 * 1024) received += (await reader.read()).value!.byteLength
        // This request is answered while the endless one is open: the event loop is not starved.
        const held = await stateOf(run)
        expect(held.produced - received).toBeLessThanOrEqual(ahead)
        expect(held.taskRan).toBe(false)
        await reader.cancel()
        const gone = await waitFor(run, (s) => s.taskRan)
        expect(gone.cancelled).toBe(true)
      })
    }

    const { stallingClient } = rules
    if (stallingClient) {
      it('with a raw-socket client that stops reading a 100 MiB stream: the app is asked only for what the socket takes, and the task runs once the client leaves', async () => {
        const run = newRun()
        const client = await stallingClient(target().origin!, `/pt/mw/large/${run}?bytes=${LARGE}`, 1024 * 1024)
        const held = await stateOf(run)
        expect(held.produced).toBeLessThan(BUFFERED_OVER_HTTP)
        expect(held.taskRan).toBe(false)
        client.destroy()
        const gone = await waitFor(run, (s) => s.taskRan)
        expect(gone.produced).toBeLessThan(LARGE)
      })

      it('with a raw-socket client that stops reading a large buffered body: the task runs once the client leaves', async () => {
        const run = newRun()
        const client = await stallingClient(target().origin!, `/pt/mw/buffer/${run}?bytes=${BUFFERED_OVER_HTTP}`, 1024 * 1024)
        client.destroy()
        expect((await waitFor(run, (s) => s.taskRan)).taskRan).toBe(true)
      })
    }
  })
}
