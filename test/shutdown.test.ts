/**
 * gracefulShutdown() with real processes and real signals, on Node (@hono/node-server), Bun
 * (Bun.serve) and Deno (Deno.serve): the fixture is test/fixtures/shutdown-server.ts. Tasks and
 * handlers wait on gates that the test opens through the child's stdin, so "pending at the signal,
 * finished after it" is proven by order, not by clocks.
 */
import { connect } from 'node:net'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type BackgroundTasksEnv, backgroundTasks } from '../src/index.ts'
import { gracefulShutdown } from '../src/shutdown/index.ts'
import { deferred } from './_support/helpers.ts'
import { bundleFixture, killAll, portOf, type Runtime, startProcess, summaryOf } from './_support/processes.ts'

interface Summary {
  handled: Record<string, number>
  ran: number
  unhandledRejections: number
  uncaughtExceptions: number
}

let fixture: Awaited<ReturnType<typeof bundleFixture>>
beforeAll(async () => {
  fixture = await bundleFixture('test/fixtures/shutdown-server.ts')
})
afterEach(killAll)
afterAll(() => fixture?.remove())

const start = (runtime: Runtime, env: Record<string, string> = {}) => startProcess(runtime, fixture.script, { cwd: fixture.dir, env })

/** A raw HTTP/1.1 connection, to keep it alive, pipeline on it and see exactly what comes back. */
const rawConnection = (port: number) => {
  const socket = connect(port, '127.0.0.1')
  socket.setEncoding('utf8')
  let text = ''
  const waiters: { needle: string; resolve: () => void }[] = []
  socket.on('data', (chunk: string) => {
    text += chunk
    for (const w of [...waiters]) if (text.includes(w.needle)) w.resolve()
  })
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  return {
    get text() {
      return text
    },
    get: (path: string) => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`),
    /** Resolves once `needle` has arrived; rejects if the connection closes first. */
    until: (needle: string) =>
      text.includes(needle)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            waiters.push({ needle, resolve })
            closed.then(() => (text.includes(needle) ? resolve() : reject(new Error(`closed before ${needle}: ${text}`))))
          }),
    closed,
    destroy: () => socket.destroy(),
  }
}

describe.each(['node', 'bun', 'deno'] as const)('gracefulShutdown on %s: real process, real signals', (runtime) => {
  it('after SIGTERM, sends the response in flight and runs all 502 pending tasks, then exits with 0', async () => {
    const proc = start(runtime)
    const base = `http://127.0.0.1:${await portOf(proc)}`
    const ns = Array.from({ length: 250 }, (_, i) => i)
    const bodies = await Promise.all(ns.map(async (n) => (await fetch(`${base}/work/${n}`)).text()))
    expect(bodies).toEqual(ns.map((n) => `ok ${n}`))
    // Every client has its response; all 500 tasks wait for the gate.
    expect(await (await fetch(`${base}/pending`)).json()).toBe(500)
    const slow = fetch(`${base}/slow`)
    await proc.line('stdout', /^in handler \/slow$/)

    proc.signal('SIGTERM')
    expect(await proc.line('stderr', /shutting down/)).toMatch(
      /^\[background-tasks\] SIGTERM: shutting down; refusing new requests, waiting for (1 response|the responses in flight) and 500 tasks \(deadline 8000 ms\)$/,
    )
    proc.send('open handler')
    const res = await slow
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('slow done')
    proc.send('open tasks')

    expect(await proc.exited).toEqual({ code: 0, signal: null })
    expect(await proc.line('stderr', /SIGTERM: finished/)).toMatch(
      /^\[background-tasks\] SIGTERM: finished 502 tasks in \d+ ms; exiting with code 0$/,
    )
    expect(await summaryOf<Summary>(proc)).toEqual({
      handled: { '/work': 250, '/pending': 1, '/slow': 1 },
      ran: 502,
      unhandledRejections: 0,
      uncaughtExceptions: 0,
    })
  })

  it('with a deadline shorter than the tasks, names the unfinished ones and exits with 1', async () => {
    const proc = start(runtime, { DEADLINE: '300' })
    const base = `http://127.0.0.1:${await portOf(proc)}`
    expect(await (await fetch(`${base}/quick`)).text()).toBe('quick')
    expect(await (await fetch(`${base}/stuck`)).text()).toBe('stuck')
    expect(await (await fetch(`${base}/work/1`)).text()).toBe('ok 1')

    proc.signal('SIGTERM')
    expect(await proc.exited).toEqual({ code: 1, signal: null })
    expect(await proc.line('stderr', /SIGTERM: finished/)).toMatch(
      /^\[background-tasks\] SIGTERM: finished 0 tasks in \d+ ms; not finished: stuckA, stuckB, sendEmail, writeAudit; exiting with code 1$/,
    )
    const summary = await summaryOf<Summary>(proc)
    expect(summary.ran).toBe(1)
    expect(summary.unhandledRejections + summary.uncaughtExceptions).toBe(0)
  })

  it('refuses the requests that arrive during the drain: none of them reaches the app', async () => {
    const proc = start(runtime)
    const port = await portOf(proc)
    const base = `http://127.0.0.1:${port}`
    expect(await (await fetch(`${base}/work/0`)).text()).toBe('ok 0')
    const idle = rawConnection(port)
    idle.get('/quick')
    await idle.until('quick')
    const streaming = rawConnection(port)
    streaming.get('/stream')
    await streaming.until('chunk1;')

    proc.signal('SIGTERM')
    await proc.line('stderr', /shutting down/)
    // A new connection, the kept-alive idle one, and (except on Bun, which cuts a streamed response
    // when a request is pipelined behind it, signal or not) one pipelined behind the response in flight.
    const fresh = await fetch(`${base}/late`).then(
      (r) => r.status,
      () => 'refused',
    )
    expect(fresh === 'refused' || fresh === 503).toBe(true)
    const before = idle.text
    idle.get('/late')
    await idle.closed
    expect(idle.text === before || /^HTTP\/1\.1 503 /m.test(idle.text.slice(before.length))).toBe(true)
    if (runtime !== 'bun') streaming.get('/late')

    proc.send('open stream')
    await streaming.until('chunk2')
    if (runtime === 'node') {
      await streaming.closed
      expect(streaming.text).toMatch(/chunk2\r\n0\r\n\r\nHTTP\/1\.1 503 Service Unavailable\r\n/)
      expect(streaming.text).toMatch(/\r\nConnection: close\r\n[\s\S]*Service Unavailable: the server is shutting down\n/)
    }
    proc.send('open tasks')
    expect(await proc.exited).toEqual({ code: 0, signal: null })
    idle.destroy()
    streaming.destroy()
    const summary = await summaryOf<Summary>(proc)
    expect(summary.handled).toEqual({ '/work': 1, '/quick': 1, '/stream': 1 })
    expect(summary.ran).toBe(4)
  })
})

/**
 * A raw connection that downloads `/download` (50 MiB) and stops reading once the headers and a
 * first part of the body have arrived, as a slow client would; `resume()` reads the rest.
 */
const slowDownload = async (port: number) => {
  const socket = connect(port, '127.0.0.1')
  let received = 0
  let head = ''
  let slow = true
  const headers = deferred()
  socket.on('data', (chunk: Buffer) => {
    if (!head.includes('\r\n\r\n')) {
      head += chunk.toString('latin1')
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      received += Buffer.byteLength(head.slice(end + 4), 'latin1')
      head = head.slice(0, end + 4)
      headers.resolve()
    } else received += chunk.length
    if (slow && received >= 1024 * 1024) socket.pause()
  })
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.write('GET /download HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
  await headers.promise
  return {
    get received() {
      return received
    },
    head: () => head,
    /** Reads the rest; resolves once the whole body or the end of the connection has arrived. */
    resume: () => {
      const whole = new Promise<void>((resolve) => socket.on('data', () => received >= BODY && resolve()))
      slow = false
      socket.resume()
      return Promise.race([whole, closed])
    },
    destroy: () => socket.destroy(),
  }
}

/** The body length of a `/download` response, chunked or not, from its headers and bytes received. */
const BODY = 50 * 1024 * 1024

describe.each(['node', 'bun', 'deno'] as const)('gracefulShutdown on %s: a slow download at SIGTERM', (runtime) => {
  // Node waits for the ServerResponse's close, so the task waits for the slow client. Deno's
  // info.completed settles once it has taken a buffered body, and Bun starts a buffered body's tasks
  // once it is handed over: there the task runs while the client is still downloading, before the
  // signal or (Bun, busy writing 50 MiB) during the shutdown, and is never left unfinished.
  const atHandOver = runtime !== 'node'

  it('lets a slow client finish downloading a large buffered body, then runs its task and exits with 0', async () => {
    const proc = start(runtime)
    const port = await portOf(proc)
    const client = await slowDownload(port)
    proc.signal('SIGTERM')
    await proc.line('stderr', /shutting down/)
    await client.resume()
    // Chunked framing adds a few bytes; the body itself must have arrived whole.
    expect(client.received).toBeGreaterThanOrEqual(BODY)
    expect(await proc.exited).toEqual({ code: 0, signal: null })
    expect(await proc.line('stderr', /SIGTERM: finished/)).toMatch(
      new RegExp(`^\\[background-tasks\\] SIGTERM: finished ${atHandOver ? '[01]' : '1'} tasks? in \\d+ ms; exiting with code 0$`),
    )
    expect((await summaryOf<Summary>(proc)).ran).toBe(1)
  })

  it('at the deadline, counts a download still in flight as not finished: names its task, says so, and exits with 1', async () => {
    const proc = start(runtime, { DEADLINE: '500' })
    const port = await portOf(proc)
    const client = await slowDownload(port)
    proc.signal('SIGTERM')
    expect(await proc.exited).toEqual({ code: 1, signal: null })
    const unfinished = atHandOver ? '' : 'not finished: afterDownload; '
    const responses = runtime === 'deno' ? 'some responses were' : '1 response was'
    expect(await proc.line('stderr', /SIGTERM: finished/)).toMatch(
      new RegExp(
        `^\\[background-tasks\\] SIGTERM: finished ${atHandOver ? '[01]' : '0'} tasks? in \\d+ ms; ${unfinished}${responses} still in flight at the deadline; exiting with code 1$`,
      ),
    )
    expect(client.received).toBeLessThan(BODY)
    expect((await summaryOf<Summary>(proc)).ran).toBe(atHandOver ? 1 : 0)
    client.destroy()
  })
})

describe('gracefulShutdown on node: more', () => {
  it('exits at once with 1 on a second signal, naming what is left', async () => {
    const proc = start('node')
    const base = `http://127.0.0.1:${await portOf(proc)}`
    await (await fetch(`${base}/stuck`)).text()
    proc.signal('SIGTERM')
    await proc.line('stderr', /shutting down/)
    proc.signal('SIGINT')
    expect(await proc.exited).toEqual({ code: 1, signal: null })
    expect(await proc.line('stderr', /again/)).toBe(
      '[background-tasks] SIGINT again: not waiting any longer; not finished: stuckA, stuckB; exiting with code 1',
    )
  })

  it('with exit: false, resolves with the report and leaves the process alone', async () => {
    const gate = deferred()
    const app = new Hono<BackgroundTasksEnv>()
    app.use(backgroundTasks())
    app.get('/', (c) => {
      c.var.tasks.add(async function sendEmail() {
        await gate.promise
      })
      return c.text('ok')
    })
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })
    await new Promise((resolve) => server.once('listening', resolve))
    const lines: string[] = []
    const shutdown = gracefulShutdown(server, { exit: false, signals: [], log: (line) => lines.push(line) })
    const { port } = server.address() as { port: number }
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('ok')
    expect(shutdown.draining).toBe(false)
    const report = shutdown.shutdown('deploy')
    expect(shutdown.draining).toBe(true)
    expect(shutdown.shutdown()).toBe(report)
    gate.resolve()
    expect(await report).toEqual({
      reason: 'deploy',
      finished: ['sendEmail'],
      unfinished: [],
      responsesFinished: true,
      ok: true,
      duration: expect.any(Number),
    })
    expect(lines).toEqual([
      '[background-tasks] deploy: shutting down; refusing new requests, waiting for 0 responses and 1 task (deadline 8000 ms)',
      expect.stringMatching(/^\[background-tasks\] deploy: finished 1 task in \d+ ms$/),
    ])
    expect(server.listening).toBe(false)
  })

  it('removes its signal listeners and unwraps the server on dispose()', async () => {
    const app = new Hono()
    app.get('/', (c) => c.text('ok'))
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })
    await new Promise((resolve) => server.once('listening', resolve))
    const listeners = server.listeners('request')
    const before = process.listenerCount('SIGTERM')
    const shutdown = gracefulShutdown(server, { exit: false })
    expect(process.listenerCount('SIGTERM')).toBe(before + 1)
    expect(server.listeners('request')).not.toEqual(listeners)
    expect(() => gracefulShutdown(server)).toThrow('gracefulShutdown: already installed for this server; call it once per server')
    shutdown.dispose()
    expect(process.listenerCount('SIGTERM')).toBe(before)
    expect(server.listeners('request')).toEqual(listeners)
    await new Promise((resolve) => server.close(resolve))
  })

  it('rejects bad options in one line', () => {
    const server = { shutdown: async () => {} }
    expect(() => gracefulShutdown(server, { timeout: -1 })).toThrow(
      new RangeError('gracefulShutdown: expected `timeout` to be more than 0 and at most 2147483647 ms, or `false`, got `-1` (number)'),
    )
    expect(() => gracefulShutdown(server, { signals: 'SIGTERM' as never })).toThrow(
      new TypeError('gracefulShutdown: expected `signals` to be an array of signal names such as "SIGTERM", got `"SIGTERM"` (string)'),
    )
    expect(() => gracefulShutdown(server, { signals: ['TERM'] })).toThrow(
      new TypeError('gracefulShutdown: expected `signals` to be an array of signal names such as "SIGTERM", got `"TERM"` (string) in it'),
    )
    expect(() => gracefulShutdown(server, { log: 'yes' as never })).toThrow(
      new TypeError('gracefulShutdown: expected `log` to be a function or `false`, got `"yes"` (string)'),
    )
    expect(() => gracefulShutdown(server, { exit: 1 as never })).toThrow(
      new TypeError('gracefulShutdown: expected `exit` to be a boolean, got `1` (number)'),
    )
    expect(() => gracefulShutdown(server, { deadline: 5 } as never)).toThrow(
      new TypeError('gracefulShutdown: unknown option `deadline`; known options are `timeout`, `signals`, `log`, `exit`'),
    )
    expect(() => gracefulShutdown(42 as never)).toThrow(
      new TypeError(
        "gracefulShutdown: expected `server` to be the server that @hono/node-server's serve(), Bun.serve() or Deno.serve() returned, got `42` (number)",
      ),
    )
  })
})
