/**
 * The fault matrix, on a real @hono/node-server socket. Each fault runs next to a bystander request
 * whose tasks run at the same time; after each, the test checks that the fault was reported by name
 * (never dropped silently), that the tasks after it ran, that nothing leaked into the bystander
 * (its events, its context), and that the process saw no unhandled rejection and no uncaught
 * exception. Single faults are also covered where they were first pinned down: test/_support/behaviour-suite.ts
 * (failures, timeout, retries, handler throws, client gone mid-stream, maxTasks, late add),
 * test/hooks.test.ts (hooks that throw) and test/drain.test.ts (the drain's deadline).
 */
import type { AddressInfo } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { serve } from '@hono/node-server'
import { type Context, Hono } from 'hono'
import { stream } from 'hono/streaming'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { type BackgroundTasksEnv, type BackgroundTasksOptions, backgroundTasks, drainTasks, task } from '../src/index.ts'
import { deferred } from './_support/helpers.ts'

const events = new Map<string, string[]>()
const eventsOf = (run: string): string[] => events.get(run) ?? []
const record = (run: string, event: string): void => {
  events.set(run, [...eventsOf(run), event])
}
const runOf = (c: Context): string => c.req.param('run') ?? 'unknown'
const show = (value: unknown): string =>
  value instanceof Error
    ? `${value.name}: ${value.message}`
    : typeof value === 'object' && value !== null
      ? JSON.stringify(value)
      : String(value)

/** Records every report by name, attempt and the request it came from, so a leak would show. */
const reporting: BackgroundTasksOptions = {
  retryDelay: 0,
  onError: (error, info, c) => record(runOf(c), `onError:${info.name}:${info.attempt}:${show(error)}:${c.req.path}`),
  onTaskEnd: (info, c) => {
    if (info.outcome !== 'success') record(runOf(c), `end:${info.name}:${info.outcome}:${info.attempt}`)
  },
}
const mount = (extra: BackgroundTasksOptions = {}) => backgroundTasks({ ...reporting, ...extra })

const step = (run: string, label: string) => record(run, label)

const process_ = { unhandledRejections: 0, uncaughtExceptions: 0 }
const onRejection = () => {
  process_.unhandledRejections++
}
const onException = () => {
  process_.uncaughtExceptions++
}

const overrunGates = new Map<string, () => void>()
const overrunDone = new Map<string, Promise<void>>()
const hugeRefs = new Map<string, WeakRef<object>>()
const cyclicArgs = new Map<string, object>()
const streamAborted = new Map<string, ReturnType<typeof deferred<void>>>()

const app = new Hono<BackgroundTasksEnv>()

app.get('/bystander/:run/:n', mount(), (c) => {
  const run = runOf(c)
  const n = c.req.param('n')
  c.var.tasks.add(async (label: string) => {
    await Promise.resolve()
    step(run, label)
  }, `bystander:a:${n}`)
  c.var.tasks.add(step, run, `bystander:b:${n}`)
  return c.text('bystander')
})

app.get('/throws-sync/:run', mount(), (c) => {
  c.var.tasks.add(
    task(
      () => {
        throw new Error('sync boom')
      },
      { name: 'throwsSync' },
    ),
  )
  c.var.tasks.add(step, runOf(c), 'next')
  return c.text('ok')
})

app.get('/rejects/:run', mount(), (c) => {
  c.var.tasks.add(task(async () => Promise.reject(new TypeError('async boom')), { name: 'rejects' }))
  c.var.tasks.add(step, runOf(c), 'next')
  return c.text('ok')
})

app.get('/non-errors/:run', mount(), (c) => {
  const throwing = (name: string, value: unknown) =>
    task(
      () => {
        throw value
      },
      { name },
    )
  c.var.tasks.add(throwing('string', 'a string'))
  c.var.tasks.add(throwing('undefined', undefined))
  c.var.tasks.add(task(() => Promise.reject(null), { name: 'null' }))
  c.var.tasks.add(throwing('object', { code: 42 }))
  c.var.tasks.add(step, runOf(c), 'next')
  return c.text('ok')
})

app.get('/hangs/:run', mount(), (c) => {
  const run = runOf(c)
  c.var.tasks.add(
    task(
      function hang(this: { signal: AbortSignal }) {
        this.signal.addEventListener('abort', () => record(run, `hang:aborted:${(this.signal.reason as Error).name}`))
        return new Promise(() => {})
      },
      { name: 'hang', timeout: 30 },
    ),
  )
  // Well-behaved tasks settle when aborted, like fetch(url, { signal }): nothing more to report.
  c.var.tasks.add(
    task(
      function polite(this: { signal: AbortSignal }) {
        return new Promise((_, reject) => this.signal.addEventListener('abort', () => reject(this.signal.reason)))
      },
      { name: 'polite', timeout: 30 },
    ),
  )
  c.var.tasks.add(
    task(
      function politeDom(this: { signal: AbortSignal }) {
        return new Promise((_, reject) =>
          this.signal.addEventListener('abort', () => reject(new DOMException('The operation was aborted', 'AbortError'))),
        )
      },
      { name: 'politeDom', timeout: 30 },
    ),
  )
  c.var.tasks.add(step, run, 'next')
  return c.text('ok')
})

app.get(
  '/hooks-throw/:run',
  backgroundTasks({
    retries: 1,
    retryDelay: () => {
      throw new Error('retryDelay broke')
    },
    onTaskStart: () => {
      throw new Error('start hook broke')
    },
    onTaskEnd: async () => Promise.reject(new Error('end hook broke')),
    onError: () => {
      throw new Error('onError broke')
    },
  }),
  (c) => {
    c.var.tasks.add(function fails() {
      throw new Error('boom')
    })
    c.var.tasks.add(step, runOf(c), 'next')
    return c.text('ok')
  },
)

app.get('/retries/:run', mount({ retries: 2 }), (c) => {
  const run = runOf(c)
  let calls = 0
  c.var.tasks.add(function flaky(this: { attempt: number }) {
    calls++
    record(run, `flaky:attempt:${this.attempt}`)
    if (calls < 3) throw new Error(`fail ${calls}`)
  })
  c.var.tasks.add(function hopeless(this: { attempt: number }) {
    record(run, `hopeless:attempt:${this.attempt}`)
    throw new Error('always')
  })
  c.var.tasks.add(step, run, 'next')
  return c.text('ok')
})

app.get('/handler-throws/:run', mount(), (c) => {
  const run = runOf(c)
  c.var.tasks.add(task(step, { name: 'normal' }), run, 'normal:ran')
  c.var.tasks.add(task(step, { name: 'audit', always: true }), run, 'audit:ran')
  throw new Error('handler broke after adding tasks')
})

app.get('/stream/:run', mount(), (c) => {
  const run = runOf(c)
  const aborted = deferred()
  streamAborted.set(run, aborted)
  c.var.tasks.add(step, run, 'task:ran')
  return stream(c, async (s) => {
    s.onAbort(() => {
      record(run, 'stream:aborted')
      aborted.resolve()
    })
    await s.write('chunk1')
    await aborted.promise
  })
})

app.get('/too-many/:run', mount({ maxTasks: 2 }), (c) => {
  const run = runOf(c)
  c.var.tasks.add(step, run, 'first')
  c.var.tasks.add(step, run, 'second')
  try {
    c.var.tasks.add(step, run, 'third')
  } catch (error) {
    record(run, `add:${(error as Error).name}`)
  }
  return c.text('ok')
})

app.get('/too-many-uncaught/:run', mount({ maxTasks: 1 }), (c) => {
  c.var.tasks.add(task(step, { name: 'first' }), runOf(c), 'first')
  c.var.tasks.add(task(step, { name: 'second' }), runOf(c), 'second')
  return c.text('never')
})

app.get('/overrun/:run', mount(), (c) => {
  const run = runOf(c)
  const tasks = c.var.tasks
  const gate = deferred()
  const done = deferred()
  overrunGates.set(run, gate.resolve)
  overrunDone.set(run, done.promise)
  c.var.tasks.add(
    task(
      async () => {
        await gate.promise
        try {
          tasks.add(function lateTask() {
            record(run, 'late:ran')
          })
        } finally {
          done.resolve()
        }
      },
      { name: 'overrun', timeout: 20 },
    ),
  )
  return c.text('ok')
})

app.get('/huge/:run', mount(), (c) => {
  const run = runOf(c)
  const huge = { text: 'x'.repeat(16 * 1024 * 1024), list: Array.from({ length: 500_000 }, (_, i) => i) }
  hugeRefs.set(run, new WeakRef(huge))
  c.var.tasks.add(
    function receivesHuge(arg: typeof huge, list: number[]) {
      record(run, `huge:same:${arg === hugeRefs.get(run)?.deref()}:${arg.text.length}:${list === arg.list}`)
    },
    huge,
    huge.list,
  )
  c.var.tasks.add(
    task(
      (_arg: typeof huge) => {
        throw new Error('huge failed')
      },
      { name: 'hugeFails' },
    ),
    huge,
  )
  return c.text('ok')
})

const logLines: string[] = []
app.get('/cyclic/:run', mount({ log: (line) => logLines.push(line.replace(/\d+ ms/, 'N ms')) }), (c) => {
  const run = runOf(c)
  const node: { name: string; self?: unknown; list?: unknown[] } = { name: 'node' }
  node.self = node
  node.list = [node]
  node.list.push(node.list)
  cyclicArgs.set(run, node)
  c.var.tasks.add(function receivesCyclic(arg: typeof node) {
    record(run, `cyclic:same:${arg === cyclicArgs.get(run) && arg.self === arg}`)
  }, node)
  c.var.tasks.add(
    task(
      (_arg: typeof node) => {
        throw new Error('cyclic failed')
      },
      { name: 'cyclicFails' },
    ),
    node,
  )
  return c.text('ok')
})
app.onError((error, c) => c.text(`error: ${error.message}`, 500))

let base = ''
let server: ReturnType<typeof serve>
const consoleErrors: unknown[][] = []

beforeAll(async () => {
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtException', onException)
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      base = `http://127.0.0.1:${info.port}`
      resolve()
    })
  })
})
afterAll(async () => {
  process.off('unhandledRejection', onRejection)
  process.off('uncaughtException', onException)
  await new Promise((resolve) => server.close(resolve))
})
afterEach(() => {
  vi.restoreAllMocks()
})

let counter = 0
const newRun = (): string => `f${(counter++).toString(36)}`

/**
 * Sends the fault's request and a bystander's at the same time, waits for all in-process work, and
 * checks the bystander and the process. Returns the fault's response and events.
 */
const exercise = async (route: string, init: RequestInit = {}) => {
  consoleErrors.length = 0
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    consoleErrors.push(args)
  })
  const run = newRun()
  const bystander = newRun()
  const [res, other] = await Promise.all([fetch(`${base}/${route}/${run}`, init), fetch(`${base}/bystander/${bystander}/7`)])
  const body = await res.text()
  expect(await other.text()).toBe('bystander')
  expect(await drainTasks({ timeout: 5_000 })).toMatchObject({ unfinished: [] })
  expect(eventsOf(bystander)).toEqual(['bystander:a:7', 'bystander:b:7'])
  expect(process_).toEqual({ unhandledRejections: 0, uncaughtExceptions: 0 })
  return { run, status: res.status, body, events: eventsOf(run) }
}

describe('fault matrix on a real socket: reported by name, the rest runs, nothing leaks, the process lives', () => {
  it('a task that throws synchronously', async () => {
    const { run, events } = await exercise('throws-sync')
    expect(events).toEqual(['end:throwsSync:error:1', `onError:throwsSync:1:Error: sync boom:/throws-sync/${run}`, 'next'])
  })

  it('a task that rejects', async () => {
    const { run, events } = await exercise('rejects')
    expect(events).toEqual(['end:rejects:error:1', `onError:rejects:1:TypeError: async boom:/rejects/${run}`, 'next'])
  })

  it('tasks that throw or reject with non-Error values', async () => {
    const { run, events } = await exercise('non-errors')
    expect(events.filter((e) => e.startsWith('onError:'))).toEqual([
      `onError:string:1:a string:/non-errors/${run}`,
      `onError:undefined:1:undefined:/non-errors/${run}`,
      `onError:null:1:null:/non-errors/${run}`,
      `onError:object:1:{"code":42}:/non-errors/${run}`,
    ])
    expect(events.at(-1)).toBe('next')
  })

  it('a task that never settles: the timeout fires, its signal is aborted, the next task runs', async () => {
    const { run, events } = await exercise('hangs')
    expect(events).toEqual([
      'hang:aborted:TaskTimeoutError',
      'end:hang:timeout:1',
      `onError:hang:1:TaskTimeoutError: task "hang" timed out after 30 ms:/hangs/${run}`,
      'end:polite:timeout:1',
      `onError:polite:1:TaskTimeoutError: task "polite" timed out after 30 ms:/hangs/${run}`,
      'end:politeDom:timeout:1',
      `onError:politeDom:1:TaskTimeoutError: task "politeDom" timed out after 30 ms:/hangs/${run}`,
      'next',
    ])
    expect(consoleErrors).toEqual([])
  })

  it('onError, onTaskStart, onTaskEnd and retryDelay that throw', async () => {
    const { events } = await exercise('hooks-throw')
    expect(events).toEqual(['next'])
    const logged = consoleErrors.map((args) => String(args[0]))
    // Two attempts of "fails" and one of "next": each hook failure is logged, none is lost or fatal.
    expect(logged.filter((l) => l === '[background-tasks] the onTaskStart hook threw:')).toHaveLength(3)
    expect(logged.filter((l) => l === '[background-tasks] the onTaskEnd hook threw:')).toHaveLength(3)
    expect(logged.filter((l) => l === '[background-tasks] the retryDelay function threw:')).toHaveLength(1)
    expect(logged.filter((l) => l === '[background-tasks] the onError hook threw:')).toHaveLength(1)
  })

  it('retries that succeed on the third attempt, and retries that give up, with the attempts counted', async () => {
    const { run, events } = await exercise('retries')
    expect(events).toEqual([
      'flaky:attempt:1',
      'end:flaky:error:1',
      'flaky:attempt:2',
      'end:flaky:error:2',
      'flaky:attempt:3',
      'hopeless:attempt:1',
      'end:hopeless:error:1',
      'hopeless:attempt:2',
      'end:hopeless:error:2',
      'hopeless:attempt:3',
      'end:hopeless:error:3',
      `onError:hopeless:3:Error: always:/retries/${run}`,
      'next',
    ])
  })

  it('a handler that throws after adding tasks: the client gets its 500, the skipped task is reported, `always` runs', async () => {
    const { status, body, events } = await exercise('handler-throws')
    expect(status).toBe(500)
    expect(body).toBe('error: handler broke after adding tasks')
    expect(events).toEqual(['end:normal:skipped:0', 'audit:ran'])
  })

  it('a client that aborts during a streamed response', async () => {
    const controller = new AbortController()
    const run = newRun()
    const bystander = newRun()
    const res = await fetch(`${base}/stream/${run}`, { signal: controller.signal })
    const reader = res.body!.getReader()
    await reader.read()
    const other = fetch(`${base}/bystander/${bystander}/8`)
    controller.abort()
    await reader.cancel().catch(() => {})
    await streamAborted.get(run)!.promise
    expect(await (await other).text()).toBe('bystander')
    expect(await drainTasks({ timeout: 5_000 })).toMatchObject({ unfinished: [] })
    expect(eventsOf(run)).toEqual(['stream:aborted', 'task:ran'])
    expect(eventsOf(bystander)).toEqual(['bystander:a:8', 'bystander:b:8'])
    expect(process_).toEqual({ unhandledRejections: 0, uncaughtExceptions: 0 })
  })

  it('a request that adds more tasks than maxTasks: the extra add throws, the tasks added run', async () => {
    const { events } = await exercise('too-many')
    expect(events).toEqual(['add:RangeError', 'first', 'second'])
  })

  it('the same, uncaught: the handler fails with a 500 and its tasks are reported as skipped, not dropped', async () => {
    const { status, body, events } = await exercise('too-many-uncaught')
    expect(status).toBe(500)
    expect(body).toMatch(/^error: tasks\.add: GET \/too-many-uncaught\/:run already has 1 tasks, the `maxTasks` limit; task "second"/)
    expect(events).toEqual(['end:first:skipped:0'])
  })

  it('a task that adds a task after its request work has finished (it ran past its timeout): reported, not dropped', async () => {
    const { run, events } = await exercise('overrun')
    expect(events).toEqual([
      'end:overrun:timeout:1',
      `onError:overrun:1:TaskTimeoutError: task "overrun" timed out after 20 ms:/overrun/${run}`,
    ])
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {})
    overrunGates.get(run)!()
    await overrunDone.get(run)
    await vi.waitFor(() => expect(spy).toHaveBeenCalled())
    const [line, error] = spy.mock.calls[0] as [string, Error]
    expect(line).toBe('[background-tasks] task "overrun" failed after it had timed out:')
    expect(error.message).toMatch(
      /^tasks\.add: the background work of GET \/overrun\/:run has already finished, so task "lateTask" would never run/,
    )
    expect(eventsOf(run)).not.toContain('late:ran')
    expect(process_).toEqual({ unhandledRejections: 0, uncaughtExceptions: 0 })
  })

  it('huge arguments: passed by reference, never serialised or printed, and released after the work', async () => {
    const { run, events } = await exercise('huge')
    expect(events).toEqual(['huge:same:true:16777216:true', 'end:hugeFails:error:1', `onError:hugeFails:1:Error: huge failed:/huge/${run}`])
    const printed = consoleErrors.flat().map((value) => (typeof value === 'string' ? value.length : 0))
    expect(Math.max(0, ...printed)).toBeLessThan(1_000)
    // Nothing keeps the request's arguments once its work is done.
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    for (let i = 0; i < 5 && hugeRefs.get(run)?.deref() !== undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
      gc()
    }
    expect(hugeRefs.get(run)?.deref()).toBeUndefined()
  })

  it('cyclic arguments: passed as they are, and logs and reports do not choke on them', async () => {
    const { run, events } = await exercise('cyclic')
    expect(events).toEqual(['cyclic:same:true', 'end:cyclicFails:error:1', `onError:cyclicFails:1:Error: cyclic failed:/cyclic/${run}`])
    expect(logLines).toEqual([
      '[background-tasks] receivesCyclic: success in N ms (GET /cyclic/:run)',
      '[background-tasks] cyclicFails: error in N ms (GET /cyclic/:run)',
    ])
  })

  it('after all of them, the same server still answers and runs tasks', async () => {
    const { events } = await exercise('throws-sync')
    expect(events.at(-1)).toBe('next')
  })
})
