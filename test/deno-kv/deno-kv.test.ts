import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest'
import { bundleFixture, killAll, type Proc, portOf, root, startProcess } from '../_support/processes.ts'

// Deno processes (the npm `deno` binary) on a local SQLite KV file, driven from here: a web process
// queueing through denoKvQueue(), and worker processes running denoKvWorker(). A worker is started
// after the messages it should take are queued: on a local file, a process learns of another
// process's enqueue only when it opens the store or at its next poll, up to a minute later.

let fixture: Awaited<ReturnType<typeof bundleFixture>>
beforeAll(async () => {
  fixture = await bundleFixture('test/fixtures/deno-kv-app.ts')
})
afterEach(killAll)
afterAll(() => fixture?.remove())

let n = 0
/** A fresh KV file, and how to start a process of the fixture on it. */
const store = () => {
  const path = join(fixture.dir, `kv-${++n}.sqlite`)
  const procs: Proc[] = []
  onTestFailed(() => {
    for (const proc of procs) console.log(proc.stdout.join('\n'), '\n--stderr--\n', proc.stderr.join('\n'))
  })
  const start = (mode: 'web' | 'worker', env: Record<string, string> = {}): Proc => {
    const proc = startProcess('deno', fixture.script, { cwd: fixture.dir, env: { KV_PATH: path, MODE: mode, ...env } })
    procs.push(proc)
    return proc
  }
  const worker = async (env: Record<string, string> = {}) => {
    const proc = start('worker', env)
    await proc.line('stdout', /^ready$/)
    return proc
  }
  return { path, start, worker }
}

/** Lines of `proc` matching `pattern`, the text after the match's start. */
const linesOf = (proc: Proc, pattern: RegExp): string[] => proc.stdout.filter((line) => pattern.test(line))

/** Asks a worker for its dead letters until `until` holds for them (bounded by the test's timeout). */
const deadLetters = async (proc: Proc, until: (letters: DeadLetterLine[]) => boolean): Promise<DeadLetterLine[]> => {
  for (;;) {
    const seen = linesOf(proc, /^dead /).length
    proc.send('list')
    const lines = await waitForCount(proc, /^dead /, seen + 1)
    const letters = JSON.parse(lines[seen]!.slice('dead '.length)) as DeadLetterLine[]
    if (until(letters)) return letters
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

interface DeadLetterLine {
  id: string
  task?: string
  args?: unknown[]
  message: unknown
  reason: string
  error?: { name: string; message: string }
  attempts: number
}

/** Resolves once `proc` has printed `count` lines matching `pattern`. */
const waitForCount = async (proc: Proc, pattern: RegExp, count: number): Promise<string[]> => {
  for (;;) {
    const lines = linesOf(proc, pattern)
    if (lines.length >= count) return lines
    await Promise.race([
      proc.line('stdout', new RegExp(`${pattern.source}[\\s\\S]*`)).then(() => new Promise((r) => setTimeout(r, 5))),
      proc.exited,
    ])
    if (proc.child.exitCode !== null) throw new Error(`exited before printing ${count} lines matching ${pattern}`)
  }
}

const post = async (port: number, label: string) => fetch(`http://127.0.0.1:${port}/register?label=${label}`, { method: 'POST' })

describe('denoKvQueue and denoKvWorker on Deno', () => {
  it('take a real Deno.Kv, as Deno types it (deno check)', async () => {
    const file = join(fixture.dir, 'types.ts')
    const index = join(root, 'src/deno-kv/index.ts')
    await writeFile(
      file,
      [
        `import { denoKvQueue, denoKvWorker, listDeadLetters, retryDeadLetter } from ${JSON.stringify(index)}`,
        'const kv: Deno.Kv = await Deno.openKv(":memory:")',
        'denoKvQueue(kv, { prefix: ["app", 1, 2n, true, new Uint8Array(1)] })',
        'await denoKvWorker({ kv, tasks: [] }).stop()',
        'await listDeadLetters(kv)',
        'await retryDeadLetter(kv, "id")',
      ].join('\n'),
    )
    const deno = join(root, 'node_modules/deno/deno')
    const args = ['check', '--unstable-kv', '--node-modules-dir=manual', '--no-lock', file]
    const { stderr } = await promisify(execFile)(deno, args, {
      cwd: root,
      env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    })
    // A type error makes deno exit with 1, and execFile reject with its output.
    expect(stderr.trim()).toMatch(/^Check \S+\/types\.ts$/)
  })

  it('has the task in the KV file once the client has its 201: a web process killed right then loses nothing', async () => {
    const { start, worker } = store()
    const web = start('web')
    const res = await post(await portOf(web), 'kill')
    expect(res.status).toBe(201)
    web.kill()
    expect(await web.exited).toEqual({ code: null, signal: 'SIGKILL' })
    // Another process, started after the web process died, runs it.
    const w = await worker()
    expect(await w.line('stdout', /^ran record kill /)).toMatch(/^ran record kill [0-9a-f-]{36} attempt 1$/)
  })

  it('with beforeResponse (the default) answers only once the commit is done; with false, before it', async () => {
    for (const [beforeResponse, label] of [
      ['true', 'before'],
      ['false', 'after'],
    ] as const) {
      const { start, worker } = store()
      const web = start('web', { GATE: '1', BEFORE_RESPONSE: beforeResponse })
      let answered = false
      const response = post(await portOf(web), label).then((res) => {
        answered = true
        return res
      })
      await web.line('stdout', /^commit waiting$/)
      if (beforeResponse === 'true') {
        // The commit waits for `go`, and so does the response.
        await new Promise((resolve) => setTimeout(resolve, 100))
        expect(answered).toBe(false)
        web.send('go')
        expect((await response).status).toBe(201)
      } else {
        // The client has its 201 while the commit still waits.
        expect((await response).status).toBe(201)
        expect(linesOf(web, /^commit true$/)).toEqual([])
        web.send('go')
      }
      await web.line('stdout', /^commit true$/)
      web.kill()
      const w = await worker()
      await w.line('stdout', new RegExp(`^ran record ${label} `))
    }
  })

  it('retries a failing task per its retries, with this.attempt counting deliveries (1, 2, 3), and clears its record on success', async () => {
    const { worker } = store()
    const w = await worker()
    w.send(`send ${JSON.stringify({ task: 'flaky', args: ['f'] })}`)
    await w.line('stdout', /^ran flaky f .* attempt 3$/)
    expect(linesOf(w, /^(ran|error) flaky/).map((line) => line.replace(/ [0-9a-f-]{36}/, ''))).toEqual([
      'ran flaky f attempt 1',
      'error flaky attempt 1: Error: flaky failure on attempt 1',
      'ran flaky f attempt 2',
      'error flaky attempt 2: Error: flaky failure on attempt 2',
      'ran flaky f attempt 3',
    ])
    w.send('send {"task":"record","args":["after"]}')
    await w.line('stdout', /^ran record after /)
    expect(await deadLetters(w, () => true)).toEqual([])
  })

  it('makes a task a dead letter after its last retry, with its error and attempts, and retryDeadLetter() runs it again from attempt 1', async () => {
    const { worker } = store()
    const w = await worker()
    w.send(`send ${JSON.stringify({ task: 'doomed', args: ['d'] })}`)
    const id = /^sent doomed (\S+) /.exec(await w.line('stdout', /^sent doomed /))![1]!
    const [letter] = await deadLetters(w, (letters) => letters.length > 0)
    expect(letter).toEqual({
      id,
      task: 'doomed',
      args: ['d'],
      message: { task: 'doomed', args: ['d'], id, enqueuedAt: expect.any(Number), retries: 1, backoffSchedule: [50, 0] },
      reason: 'failed',
      error: { name: 'Error', message: 'doomed for good', stack: expect.stringContaining('doomed for good') },
      attempts: 2,
      failedAt: expect.any(Number),
    })
    expect(linesOf(w, /^ran doomed/)).toEqual([`ran doomed d ${id} attempt 1`, `ran doomed d ${id} attempt 2`])
    w.send(`retry ${id}`)
    await w.line('stdout', new RegExp(`^retried ${id}$`))
    await waitForCount(w, /^ran doomed/, 4)
    expect(linesOf(w, /^ran doomed/).slice(2)).toEqual([`ran doomed d ${id} attempt 1`, `ran doomed d ${id} attempt 2`])
    const [again] = await deadLetters(w, (letters) => letters.length > 0)
    expect(again).toMatchObject({ id, reason: 'failed', attempts: 2 })
  })

  it('makes a malformed message a dead letter at once, and retries one naming an unknown task before it becomes one', async () => {
    const { worker } = store()
    const w = await worker()
    w.send(`enqueue-raw ${JSON.stringify([{ hello: 'world', id: 'm-1' }, {}])}`)
    const unknown = { task: 'nobody', args: [1], id: 'u-1', enqueuedAt: 1, backoffSchedule: [50] }
    w.send(
      `enqueue-raw ${JSON.stringify([unknown, { backoffSchedule: [50], keysIfUndelivered: [['hono-background-tasks', 'dead', 'u-1']] }])}`,
    )
    const letters = await deadLetters(w, (found) => found.length === 2)
    expect(letters).toEqual([
      {
        id: 'm-1',
        message: { hello: 'world', id: 'm-1' },
        reason: 'malformed',
        error: {
          name: 'Error',
          message: 'message m-1 on Deno KV queue "hono-background-tasks" is not a task message: `task` is not a non-empty string; not run',
          stack: expect.any(String),
        },
        attempts: 1,
        failedAt: expect.any(Number),
      },
      {
        id: 'u-1',
        task: 'nobody',
        args: [1],
        message: unknown,
        reason: 'unknown-task',
        error: {
          name: 'Error',
          message:
            'message u-1 on Deno KV queue "hono-background-tasks" names task "nobody", which this worker does not know (it knows "record", "flaky", "doomed", "slow"); not run',
          stack: expect.any(String),
        },
        attempts: 2,
        failedAt: expect.any(Number),
      },
    ])
    // Malformed: refused once, never retried; the unknown task: once per delivery.
    expect(w.stderr.filter((line) => line.includes('m-1 on Deno KV queue')).length).toBe(1)
    expect(w.stderr.filter((line) => line.includes('[background-tasks] message u-1')).length).toBe(2)
  })

  it('runs a task sent twice with one id once', async () => {
    const { worker } = store()
    const w = await worker()
    w.send('send-twice 00000000-0000-4000-8000-000000000001')
    expect(await waitForCount(w, /^sent record 00000000-0000-4000-8000-000000000001 /, 2)).toEqual([
      'sent record 00000000-0000-4000-8000-000000000001 [{"status":"fulfilled"}]',
      'sent record 00000000-0000-4000-8000-000000000001 [{"status":"fulfilled"}]',
    ])
    // Queued after it: once it has run, a second copy would have been delivered (oldest first), and stop() waits for it.
    w.send('send {"task":"record","args":["sentinel"]}')
    await w.line('stdout', /^ran record sentinel /)
    w.send('stop 5000')
    await w.line('stdout', /^stopped /)
    expect(linesOf(w, /^ran record dup /)).toEqual(['ran record dup 00000000-0000-4000-8000-000000000001 attempt 1'])
  })
})

describe('a Deno KV worker’s stop()', () => {
  // One store for both stops: the last worker opens it more than 5 s after the first stopped, when
  // Deno would have put back a message whose handler returned but whose outcome close() dropped.
  it('waits for a running task; at its deadline aborts and names the task, which is delivered again as attempt 2 although it has no retries (the spare delivery); a message arriving meanwhile goes back unrun', async () => {
    const { worker } = store()
    const a = await worker()
    a.send('send {"task":"slow","args":["s"]}')
    await a.line('stdout', /^started slow s .* attempt 1$/)
    a.send('stop 20000')
    await a.line('stdout', /^stopping$/)
    expect(linesOf(a, /^stopped /)).toEqual([])
    a.send('release s')
    expect(await a.line('stdout', /^stopped /)).toBe('stopped {"finished":["slow"],"unfinished":[]}')
    expect(await a.exited).toEqual({ code: 0, signal: null })
    expect(a.stderr).toEqual([])

    const c = await worker()
    c.send('send {"task":"slow","args":["cut"]}')
    await c.line('stdout', /^started slow cut .* attempt 1$/)
    c.send('stop 1500')
    await c.line('stdout', /^stopping$/)
    c.send('send {"task":"record","args":["late"]}')
    await c.line('stdout', /^sent record /)
    expect(await c.line('stdout', /^aborted cut/)).toBe(
      'aborted cut WorkerStopTimeoutError: task "slow" was still running when the Deno KV worker\'s stop() reached its deadline; Deno KV delivers it again once the worker\'s KV store is closed',
    )
    expect(await c.line('stdout', /^stopped /)).toBe('stopped {"finished":[],"unfinished":["slow"]}')
    expect(linesOf(c, /^ran record late/)).toEqual([])
    expect(c.stderr).toEqual([])

    // Deno puts a message back once its process has not kept it alive for 5 s, when a process opens the store: poll for it.
    const bs: Proc[] = []
    for (;;) {
      // Bounded, so that a test that failed does not go on starting workers after its timeout.
      if (bs.length === 25) throw new Error('no worker was given "cut" again after 25 openings of the store')
      const b = await worker()
      bs.push(b)
      const line = await Promise.race([b.line('stdout', /^started slow cut /), new Promise<undefined>((r) => setTimeout(r, 1_000))])
      if (line) {
        expect(line).toMatch(/ attempt 2$/)
        // A copy of "s" would be delivered before this sentinel, queued after it.
        b.send('send {"task":"record","args":["sentinel"]}')
        await b.line('stdout', /^ran record sentinel /)
        b.send('release cut')
        await b.line('stdout', /^done slow cut$/)
        break
      }
      // Stopped, not killed: a message it took meanwhile ("late") finishes or goes back, rather than wait 5 s for Deno.
      b.send('stop 5000')
      await b.exited
    }
    const ran = bs.flatMap((b) => linesOf(b, /^(ran|started) /)).map((line) => line.replace(/ [0-9a-f-]{36}/, ''))
    // The message that arrived during the stop ran once, as its first attempt; "s" never again.
    expect(ran).toEqual(['ran record late attempt 1', 'started slow cut attempt 2', 'ran record sentinel attempt 1'])
  }, 60_000)
})
