/**
 * The behaviour suite: the semantics of docs/design.md as scenarios against the scenario app, through any
 * `fetch` (app.request in-process, a real socket, another runtime's process). No clocks: a test
 * proves "the client did not wait" by holding a gate closed until after it has the whole body.
 */
import { describe, expect, it } from 'vitest'

/** How the suite reaches a server that serves `createScenarioApp()`. */
export interface Target {
  fetch(path: string, init?: RequestInit): Promise<Response>
}

let counter = 0
const newRun = (): string => `r${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`

/** Polls the recorded events until `done` holds; the test's own timeout bounds it. */
const waitFor = async (target: Target, run: string, done: (events: string[]) => boolean): Promise<string[]> => {
  for (;;) {
    const events = await eventsOf(target, run)
    if (done(events)) return events
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

const eventsOf = async (target: Target, run: string): Promise<string[]> =>
  (await target.fetch(`/_/events/${run}`)).json() as Promise<string[]>

const open = async (target: Target, run: string, gate: string): Promise<void> => {
  const res = await target.fetch(`/_/open/${run}/${gate}`, { method: 'POST' })
  expect(res.status).toBe(204)
}

const has = (event: string) => (events: string[]) => events.includes(event)

/**
 * What a runtime does differently by design. Without rules, every scenario holds as docs/design.md states it.
 */
export interface SuiteRules {
  /**
   * When a request's tasks run. `after-response` (the default) is docs/design.md, "Deferred start". `before-response`
   * is AWS Lambda's rule ("Where the lifetime comes from"): Lambda freezes once it has replied, so the library runs the tasks
   * first. There, each scenario proves the opposite of "the client did not wait": the reply is still
   * pending while a task is held at its gate, and every task has ended by the time the reply arrives.
   * @default 'after-response'
   */
  tasksRun?: 'after-response' | 'before-response'
  /**
   * What the app sees when an HTTP client goes away while a streamed body waits for its next chunk.
   * `cancels-stream` (the default): the body is cancelled at once, which Hono's `stream.onAbort`
   * reports (Node, Bun, Deno). `stream-runs-on`: the runtime does not cancel a body that is waiting;
   * workerd (`wrangler dev`) lets the stream run to its end with every write accepted, edge-runtime's
   * `runServer` cancels it at its next chunk. There, the scenario lets the stream write again and
   * proves that the tasks still run.
   * @default 'cancels-stream'
   */
  clientGone?: 'cancels-stream' | 'stream-runs-on'
}

/** Registers the behaviour scenarios against `target()` (called inside each test). */
export const behaviourSuite = (target: () => Target, rules: SuiteRules = {}): void => {
  const beforeResponse = rules.tasksRun === 'before-response'

  /**
   * Once the reply has been read: the events when `done` holds. Polled when tasks run after the
   * response; when they run before it, `done` must already hold.
   */
  const settle = async (run: string, done: (events: string[]) => boolean): Promise<string[]> => {
    if (!beforeResponse) return waitFor(target(), run, done)
    const events = await eventsOf(target(), run)
    expect(events, 'the reply arrived before its tasks had ended').toSatisfy(done)
    return events
  }

  /**
   * Sends a request whose tasks wait at a gate. When tasks run after the response, its reply is
   * read at once; before it, the reply waits for the gate, so it is left pending in `reply`.
   */
  const send = async (path: string): Promise<{ reply: Promise<string> }> => {
    const reply = target()
      .fetch(path)
      .then((res) => res.text())
    if (!beforeResponse) await reply
    // Awaited later in the test; this only keeps a failure before then from going unhandled.
    reply.catch(() => {})
    return { reply }
  }

  describe(beforeResponse ? 'behaviour (tasks run before the response)' : 'behaviour', () => {
    if (beforeResponse) {
      it('makes the client wait while its task is still pending (1, 3: tasks run before the response)', async () => {
        const run = newRun()
        let answered = false
        const pending = target()
          .fetch(`/handoff/${run}`)
          .then((res) => {
            answered = true
            return res
          })
        await waitFor(target(), run, has('task:start'))
        expect(answered).toBe(false)
        await open(target(), run, 'g')
        expect(await (await pending).json()).toEqual({ ok: true, size: 1 })
        expect(await eventsOf(target(), run)).toEqual(['handler', 'task:start', 'task:end'])
      })
    } else {
      it('gives the client the whole response while its task is still pending [design: Deferred start, One hand-off per request]', async () => {
        const run = newRun()
        const res = await target().fetch(`/handoff/${run}`)
        expect(await res.json()).toEqual({ ok: true, size: 1 })
        const before = await eventsOf(target(), run)
        expect(before).not.toContain('task:end')
        expect(before[0]).toBe('handler')
        await open(target(), run, 'g')
        expect(await waitFor(target(), run, has('task:end'))).toEqual(['handler', 'task:start', 'task:end'])
      })
    }

    it('calls nothing while the handler is still running [design: Deferred start]', async () => {
      const run = newRun()
      const pending = target().fetch(`/slow-handler/${run}`)
      await waitFor(target(), run, has('handler:waiting'))
      expect(await eventsOf(target(), run)).toEqual(['handler:waiting'])
      await open(target(), run, 'h')
      expect(await (await pending).text()).toBe('ok')
      const events = await settle(run, has('task:end'))
      expect(events).toEqual(['handler:waiting', 'handler:returns', 'task:start', 'task:end'])
    })

    it('runs tasks one after another in the order added [design: Order]', async () => {
      const run = newRun()
      const { reply } = await send(`/order/${run}`)
      await waitFor(target(), run, has('a:start'))
      expect(await eventsOf(target(), run)).toEqual(['a:start'])
      await open(target(), run, 'g')
      await reply
      expect(await settle(run, has('c:end'))).toEqual(['a:start', 'a:end', 'b:start', 'b:end', 'c:start', 'c:end'])
    })

    it('overlaps tasks with concurrency 2, and starts the third only when one finishes [design: Order]', async () => {
      const run = newRun()
      const { reply } = await send(`/concurrency/${run}`)
      const started = await waitFor(target(), run, (e) => e.includes('a:start') && e.includes('b:start'))
      expect(started).not.toContain('c:start')
      await open(target(), run, 'a')
      const events = await waitFor(target(), run, has('c:end'))
      expect(events.indexOf('c:start')).toBeGreaterThan(events.indexOf('a:end'))
      expect(events).not.toContain('b:end')
      await open(target(), run, 'b')
      await reply
      await settle(run, has('b:end'))
    })

    it('keeps going after tasks that throw, reject or throw a non-Error, and reports each to onError [design: Failure isolation]', async () => {
      const run = newRun()
      await (await target().fetch(`/failure/${run}`)).text()
      const events = await settle(run, has('ok:end'))
      expect(events.filter((e) => e.startsWith('onError:'))).toEqual([
        'onError:throwsSync:1:Error: sync boom',
        'onError:rejects:1:TypeError: async boom',
        'onError:throwsString:1:a string',
      ])
      expect(events.slice(-2)).toEqual(['ok:start', 'ok:end'])
    })

    it('skips the tasks of a handler that threw, except those marked always [design: Handler failure]', async () => {
      const run = newRun()
      const res = await target().fetch(`/handler-throws/${run}`)
      expect(res.status).toBe(409)
      await res.text()
      const events = await settle(run, has('audit:end'))
      expect(events).toEqual(['end:normal:skipped:0', 'audit:start', 'audit:end'])
    })

    it('runs the tasks of a response the handler returned, whatever its status [design: Handler failure]', async () => {
      const run = newRun()
      const res = await target().fetch(`/handler-returns-500/${run}`)
      expect(res.status).toBe(500)
      await res.text()
      expect(await settle(run, has('task:end'))).toEqual(['task:start', 'task:end'])
    })

    it('times out a task that never settles, aborts its signal and runs the next [design: Limits]', async () => {
      const run = newRun()
      await (await target().fetch(`/timeout/${run}`)).text()
      const events = await settle(run, has('after:end'))
      expect(events).toEqual([
        'hang:start',
        'hang:aborted:TaskTimeoutError',
        'end:hang:timeout:1',
        'onError:hang:1:TaskTimeoutError: task "hang" timed out after 50 ms',
        'after:start',
        'after:end',
      ])
    })

    it('retries a failing task until it succeeds, and reports one that gives up once [design: Limits]', async () => {
      const run = newRun()
      await (await target().fetch(`/retry/${run}`)).text()
      const events = await settle(run, has('after:end'))
      expect(events).toEqual([
        'flaky:attempt:1',
        'end:flaky:error:1',
        'flaky:attempt:2',
        'end:flaky:error:2',
        'flaky:attempt:3',
        'end:hopeless:error:1',
        'end:hopeless:error:2',
        'onError:hopeless:2:Error: always',
        'after:start',
        'after:end',
      ])
    })

    it('runs a task added by a task after the queued ones, and refuses adds once the work is done [design: Nested work]', async () => {
      const run = newRun()
      await (await target().fetch(`/nested/${run}`)).text()
      expect(await settle(run, has('nested:end'))).toEqual(['a:start', 'a:end', 'b:start', 'b:end', 'nested:start', 'nested:end'])
      const late = (await (await target().fetch(`/_/add-late/${run}`, { method: 'POST' })).json()) as { error: string }
      expect(late.error).toMatch(
        /^Error: tasks\.add: the background work of GET \/nested\/:run has already finished, so task "step" would never run/,
      )
    })

    if (beforeResponse) {
      it('runs the tasks of a streamed response before its first chunk (1, 3: tasks run before the response)', async () => {
        const run = newRun()
        const res = await target().fetch(`/stream/${run}`)
        const atReply = await eventsOf(target(), run)
        expect(atReply).toEqual(expect.arrayContaining(['task:start', 'task:end']))
        expect(atReply).not.toContain('chunk2')
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
        expect((await reader.read()).value).toBe('chunk1\n')
        await open(target(), run, 's')
        let rest = ''
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += chunk.value
        expect(rest).toBe('chunk2\n')
        expect((await eventsOf(target(), run)).at(-1)).toBe('chunk2')
      })

      it('has run the tasks before a client that goes away mid-stream gets the reply (1, 3: tasks run before the response)', async () => {
        const run = newRun()
        const controller = new AbortController()
        const res = await target().fetch(`/disconnect/${run}`, { signal: controller.signal })
        expect(await eventsOf(target(), run)).toEqual(['task:start', 'task:end'])
        const reader = res.body!.getReader()
        await reader.read()
        controller.abort()
        await reader.cancel().catch(() => {})
        expect(await waitFor(target(), run, has('stream:aborted'))).toEqual(['task:start', 'task:end', 'stream:aborted'])
      })
    } else {
      it('starts the tasks of a streamed response after its last chunk [design: Deferred start]', async () => {
        const run = newRun()
        const res = await target().fetch(`/stream/${run}`)
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
        expect((await reader.read()).value).toBe('chunk1\n')
        expect(await eventsOf(target(), run)).toEqual(['chunk1'])
        await open(target(), run, 's')
        let rest = ''
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += chunk.value
        expect(rest).toBe('chunk2\n')
        expect(await waitFor(target(), run, has('task:end'))).toEqual(['chunk1', 'chunk2', 'task:start', 'task:end'])
      })

      if (rules.clientGone === 'stream-runs-on') {
        it('still runs the tasks when the client goes away mid-stream, once the stream writes again [design: Deferred start]', async () => {
          const run = newRun()
          const controller = new AbortController()
          const res = await target().fetch(`/stream/${run}`, { signal: controller.signal })
          const reader = res.body!.getReader()
          await reader.read()
          controller.abort()
          await reader.cancel().catch(() => {})
          expect(await eventsOf(target(), run)).toEqual(['chunk1'])
          await open(target(), run, 's')
          expect(await waitFor(target(), run, has('task:end'))).toEqual(['chunk1', 'chunk2', 'task:start', 'task:end'])
        })
      } else {
        it('still runs the tasks when the client goes away mid-stream [design: Deferred start]', async () => {
          const run = newRun()
          const controller = new AbortController()
          const res = await target().fetch(`/disconnect/${run}`, { signal: controller.signal })
          const reader = res.body!.getReader()
          await reader.read()
          expect(await eventsOf(target(), run)).not.toContain('task:start')
          controller.abort()
          await reader.cancel().catch(() => {})
          const events = await waitFor(target(), run, has('task:end'))
          expect(events).toContain('stream:aborted')
          expect(events.indexOf('task:start')).toBeGreaterThan(events.indexOf('stream:aborted'))
        })
      }
    }

    it('keeps 200 concurrent requests to their own tasks and arguments [design: One hand-off per request]', async () => {
      const run = newRun()
      const ns = Array.from({ length: 200 }, (_, i) => i)
      const bodies = await Promise.all(ns.map(async (n) => (await target().fetch(`/isolation/${run}/${n}`)).text()))
      expect(bodies).toEqual(ns.map(String))
      const events = await settle(run, (e) => e.length >= 200)
      expect([...events].sort()).toEqual(ns.map((n) => `task:${n}:${n * n}`).sort())
    })

    it('rejects bad input at add() with a clear error and loses none of the tasks already added [design: Bad input]', async () => {
      const run = newRun()
      const errors = await (await target().fetch(`/bad-input/${run}`)).json()
      expect(errors).toEqual([
        'TypeError: tasks.add: expected a function or a task() to run, got `42` (number)',
        expect.stringMatching(
          /^RangeError: tasks\.add: GET \/bad-input\/:run already has 2 tasks, the `maxTasks` limit; task "step" was not added/,
        ),
      ])
      expect(await settle(run, has('second:end'))).toEqual(['first:start', 'first:end', 'second:start', 'second:end'])
    })
  })
}
