import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { build } from 'esbuild'
import { afterAll, afterEach, beforeAll, expect, it, onTestFailed } from 'vitest'
import { nodeForPgBoss } from '../scripts/node-22.mjs'
import { describeWithPostgres } from './_support/postgres.ts'
import { killAll, type Proc, root, startProcess } from './_support/processes.ts'

// pgBossQueue() and pgBossWorker() in real processes against a real PostgreSQL, under the Node
// pg-boss 12 needs (this test process runs on Node 20 and never loads pg-boss itself).

const dir = join(root, `node_modules/.cache/hbt-pg-boss-tests-${process.pid}`)
const script = join(dir, 'process.mjs')
let node = ''

beforeAll(async () => {
  node = nodeForPgBoss()
  await mkdir(dir, { recursive: true })
  // Packages stay imports; the bundle sits under node_modules so that Node finds them.
  await build({
    absWorkingDir: root,
    entryPoints: ['test/fixtures/pg-boss-process.ts'],
    outfile: script,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    packages: 'external',
    logLevel: 'silent',
  })
}, 120_000)
afterEach(killAll)
afterAll(() => rm(dir, { recursive: true, force: true }))

interface DeadLetterJson {
  id: string
  reason: string
  queue: string
  jobId: string
  task?: string
  taskId?: string
  attempts: number
  error: { name: string; message: string }
}

describeWithPostgres('pg-boss: web and worker processes against a real PostgreSQL', (postgres) => {
  let n = 0
  const setup = () => {
    const queue = `q${++n}`
    const procs: Proc[] = []
    onTestFailed(() => {
      for (const p of procs) console.log(`--- pid ${p.child.pid}\n${p.stdout.join('\n')}\n--stderr--\n${p.stderr.join('\n')}`)
    })
    const start = (role: 'web' | 'worker', env: Record<string, string> = {}): Proc => {
      const proc = startProcess('node', script, { cwd: root, node, env: { PG_HOST: postgres().host, QUEUE: queue, ROLE: role, ...env } })
      procs.push(proc)
      return proc
    }
    const web = async (env: Record<string, string> = {}) => {
      const proc = start('web', env)
      const port = Number(/listening (\d+)/.exec(await proc.line('stdout', /^listening \d+/))![1])
      const url = `http://127.0.0.1:${port}`
      const post = (path: string, body: unknown = []) =>
        fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      const get = async <T>(path: string) => (await (await fetch(`${url}${path}`)).json()) as T
      return { proc, post, get }
    }
    const worker = async (env: Record<string, string> = {}) => {
      const proc = start('worker', env)
      await proc.line('stdout', /^ready/)
      return proc
    }
    const idOf = (line: string) => line.split(' ')[2]!
    const attempts = (proc: Proc, task: string, id: string) =>
      proc.stdout.filter((line) => line.startsWith(`attempt ${task} ${id} `)).map((line) => Number(line.split(' ')[3]))
    return { start, web, worker, idOf, attempts }
  }

  it('inserts the job before the 201: with the web process killed by SIGKILL right after it, a worker in another process runs the task by name', async () => {
    const { web, worker, idOf } = setup()
    const w = await web()
    const res = await w.post('/add/record', ['ada'])
    w.proc.kill()
    expect(res.status).toBe(201)
    expect(await w.proc.exited).toEqual({ code: null, signal: 'SIGKILL' })
    // The web process logged the send before it was killed: the job was in Postgres before the 201.
    const id = idOf(await w.proc.line('stdout', /^sent record /))
    const a = await worker()
    const ran = await a.line('stdout', new RegExp(`^ran ${id} ada attempt 1 pid \\d+$`))
    expect(ran.split(' pid ')[1]).toBe(String(a.child.pid))
    expect(String(a.child.pid)).not.toBe(String(w.proc.child.pid))
  })

  it('with beforeResponse: false, answers before the insert, which still reaches a worker', async () => {
    const { web, worker, idOf } = setup()
    const w = await web({ BEFORE_RESPONSE: 'false', HOLD_INSERTS: '1' })
    const a = await worker()
    // The insert is held until the test releases it: the response comes first.
    const res = await w.post('/add/record', ['after'])
    expect(res.status).toBe(201)
    await w.proc.line('stdout', /^inserting 1$/)
    expect(w.proc.stdout.some((line) => line.startsWith('inserted '))).toBe(false)
    w.proc.send('insert')
    const id = idOf(await w.proc.line('stdout', /^sent record /))
    await a.line('stdout', new RegExp(`^ran ${id} after attempt 1 `))
  })

  it('with beforeResponse (the default), holds the response until the insert is done', async () => {
    const { web } = setup()
    const w = await web({ HOLD_INSERTS: '1' })
    let answered = false
    const response = w.post('/add/record', ['before']).then((res) => {
      answered = true
      return res
    })
    await w.proc.line('stdout', /^inserting 1$/)
    expect(answered).toBe(false)
    w.proc.send('insert')
    expect((await response).status).toBe(201)
    expect(w.proc.stdout.findIndex((l) => l.startsWith('inserted '))).toBeGreaterThanOrEqual(0)
  })

  it('retries a task that fails twice, and it succeeds on its third attempt', async () => {
    const { web, worker, idOf, attempts } = setup()
    const w = await web()
    const a = await worker()
    await w.post('/add/flaky')
    const id = idOf(await w.proc.line('stdout', /^sent flaky /))
    await a.line('stdout', new RegExp(`^ran ${id} flaky attempt 3 `))
    expect(attempts(a, 'flaky', id)).toEqual([1, 2, 3])
    expect(a.stderr.join('\n')).toContain(`durable task "flaky" (id ${id}) failed on attempt 2: Error: flaky on attempt 2`)
    await expect.poll(() => w.get<{ state: string }>(`/job/${id}`), { timeout: 5_000 }).toMatchObject({ state: 'completed' })
  })

  it('moves a task that fails for good to the dead-letter queue with its last error, and redrive() runs it again', async () => {
    const { web, worker, idOf, attempts } = setup()
    const w = await web()
    const a = await worker()
    await w.post('/add/broken')
    const id = idOf(await w.proc.line('stdout', /^sent broken /))
    const dead = async () => (await w.get<DeadLetterJson[]>('/dead')).filter((letter) => letter.taskId === id)
    await expect.poll(dead, { timeout: 10_000 }).toHaveLength(1)
    const [letter] = await dead()
    expect(letter).toMatchObject({
      reason: 'failed',
      queue: expect.stringMatching(/^q\d+$/),
      jobId: id,
      task: 'broken',
      attempts: 2,
      error: { name: 'Error', message: 'broken on attempt 2' },
    })
    expect(attempts(a, 'broken', id)).toEqual([1, 2])
    expect(await w.get(`/job/${id}`)).toMatchObject({ state: 'failed' })
    // Run again from the dead-letter queue: the same task id and data, so the task's own retry (within the queue's retry limit).
    expect(await (await w.post(`/redrive/${letter!.id}`)).json()).toEqual({ moved: 1 })
    await expect.poll(() => attempts(a, 'broken', id), { timeout: 10_000 }).toEqual([1, 2, 1, 2])
    await expect.poll(dead, { timeout: 10_000 }).toHaveLength(1)
    const [again] = await dead()
    expect(again).toMatchObject({ reason: 'failed', attempts: 2, error: { message: 'broken on attempt 2' } })
    expect(again!.jobId).not.toBe(id)
  })

  it('never runs malformed data (dead-lettered at once) or an unknown task (dead-lettered after its retries)', async () => {
    const { web, worker, idOf } = setup()
    const w = await web()
    const a = await worker()
    await w.post('/add/ghost')
    const ghost = idOf(await w.proc.line('stdout', /^sent ghost /))
    const { id: malformed } = (await (await w.post('/malformed')).json()) as { id: string }
    const dead = () => w.get<DeadLetterJson[]>('/dead')
    await expect.poll(async () => (await dead()).length, { timeout: 15_000 }).toBe(2)
    const letters = await dead()
    expect(letters.find((l) => l.jobId === malformed)).toMatchObject({
      reason: 'malformed',
      attempts: 1,
      error: {
        message: `job ${malformed} on queue "${letters[0]!.queue}" is not a task message: \`task\` is not a non-empty string; not run`,
      },
    })
    expect(letters.find((l) => l.jobId === ghost)).toMatchObject({
      reason: 'unknown-task',
      task: 'ghost',
      attempts: 3,
      error: { message: expect.stringContaining('names task "ghost", which this worker does not know') },
    })
    expect(a.stdout.some((line) => line.includes('ghost') || line.includes(malformed))).toBe(false)
    expect(a.stderr.filter((line) => line.includes(`job ${ghost} `) && line.includes('retried'))).toHaveLength(2)
  })

  it('runs a repeated send of one id once, also after it completed', async () => {
    const { web, worker } = setup()
    const w = await web()
    const a = await worker()
    const { once, other } = (await (await w.post('/send-twice')).json()) as { once: string; other: string }
    await a.line('stdout', new RegExp(`^ran ${other} other `))
    await a.line('stdout', new RegExp(`^ran ${once} once `))
    await expect.poll(() => w.get(`/job/${once}`), { timeout: 5_000 }).toMatchObject({ state: 'completed' })
    await w.post(`/send-again/${once}`)
    // A sentinel sent after it: once the sentinel ran, a second run of `once` would have too.
    await w.post('/add/record', ['sentinel'])
    await a.line('stdout', / sentinel attempt 1 /)
    expect(a.stdout.filter((line) => line.startsWith(`ran ${once} `))).toHaveLength(1)
    expect(a.stdout.some((line) => line.includes(' again '))).toBe(false)
  })

  it('groups sends from concurrent requests into one insert while one is in flight', async () => {
    const { web, worker } = setup()
    const w = await web()
    const a = await worker()
    const { inserts } = (await (await w.post('/burst/20')).json()) as { inserts: number[] }
    // The first goes at once; the 19 that arrive while it is in flight go together in the next.
    expect(inserts).toEqual([1, 19])
    await expect.poll(() => a.stdout.filter((line) => / burst-\d+ attempt 1 /.test(line)).length, { timeout: 10_000 }).toBe(20)
  })

  it('hands the job of a worker killed by SIGKILL mid-job to another worker, for a task with no retries', async () => {
    const { web, worker, idOf } = setup()
    // A short expiry stands in for the heartbeat (at least 10 s in pg-boss): the same path, sooner.
    const w = await web({ EXPIRE_IN_SECONDS: '2' })
    const a = await worker()
    await w.post('/add/slow')
    const id = idOf(await w.proc.line('stdout', /^sent slow /))
    await a.line('stdout', new RegExp(`^started ${id} attempt 1 `))
    a.kill()
    expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' })
    const b = await worker()
    await b.line('stdout', new RegExp(`^started ${id} attempt 2 pid ${b.child.pid}$`))
    b.send(`release ${id}`)
    await b.line('stdout', new RegExp(`^done ${id} attempt 2 `))
    await expect.poll(() => w.get(`/job/${id}`), { timeout: 5_000 }).toMatchObject({ state: 'completed' })
  })

  it('stop() lets a running job finish within its deadline', async () => {
    const { web, worker, idOf } = setup()
    const w = await web()
    const a = await worker({ STOP_TIMEOUT: '20000' })
    await w.post('/add/slow')
    const id = idOf(await w.proc.line('stdout', /^sent slow /))
    await a.line('stdout', new RegExp(`^started ${id} attempt 1 `))
    a.signal('SIGTERM')
    await a.line('stdout', /^stopping$/)
    expect(await w.get(`/job/${id}`)).toMatchObject({ state: 'active' })
    a.send(`release ${id}`)
    expect(await a.line('stdout', /^stopped /)).toBe('stopped {"finished":["slow"],"unfinished":[]}')
    expect(await a.exited).toEqual({ code: 0, signal: null })
    expect(await w.get(`/job/${id}`)).toMatchObject({ state: 'completed' })
  })

  it('stop() past its deadline aborts the task’s signal, names it, and hands its job back to another worker', async () => {
    const { web, worker, idOf } = setup()
    const w = await web()
    const a = await worker({ STOP_TIMEOUT: '200' })
    await w.post('/add/slow')
    const id = idOf(await w.proc.line('stdout', /^sent slow /))
    await a.line('stdout', new RegExp(`^started ${id} attempt 1 `))
    a.signal('SIGTERM')
    expect(await a.line('stdout', /^aborted /)).toBe(
      `aborted ${id} WorkerStopTimeoutError: task "slow" was still running when stop() reached its deadline; its job goes back to the queue for another worker`,
    )
    expect(await a.line('stdout', /^stopped /)).toBe('stopped {"finished":[],"unfinished":["slow"]}')
    expect(await a.exited).toEqual({ code: 1, signal: null })
    // Back in the queue, not failed for good: another worker runs it, as its second delivery.
    expect(await w.get(`/job/${id}`)).toMatchObject({ state: 'retry' })
    const b = await worker()
    await b.line('stdout', new RegExp(`^started ${id} attempt 2 pid ${b.child.pid}$`))
    b.send(`release ${id}`)
    await expect.poll(() => w.get(`/job/${id}`), { timeout: 5_000 }).toMatchObject({ state: 'completed' })
  })
})
