import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Queue } from 'bullmq'
import { build } from 'esbuild'
import { afterAll, afterEach, beforeAll, expect, it, onTestFailed } from 'vitest'
import { killAll, type Proc, root, startProcess } from './_support/processes.ts'
import { describeWithRedis } from './_support/redis.ts'

// Worker processes against a real redis-server: SIGTERM mid-job, within and past closeWorker()'s
// deadline. The web side and the SIGKILL proof are examples/node-durable's demo (its test).

const dir = join(root, 'node_modules/.cache/hbt-bullmq-tests')
const script = join(dir, 'worker.mjs')

beforeAll(async () => {
  await mkdir(dir, { recursive: true })
  // Packages stay imports; the bundle sits under node_modules so that Node finds them.
  await build({
    absWorkingDir: root,
    entryPoints: ['test/fixtures/bullmq-worker.ts'],
    outfile: script,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'silent',
  })
})
afterEach(killAll)
afterAll(() => rm(dir, { recursive: true, force: true }))

describeWithRedis('a BullMQ worker process on SIGTERM', (redis) => {
  let n = 0
  const setup = () => {
    const name = `shutdown-${++n}`
    const queue = new Queue(name, { connection: redis().connect() })
    const worker = (env: Record<string, string> = {}): Proc =>
      startProcess('node', script, { cwd: root, env: { REDIS_SOCKET: redis().socket, QUEUE: name, ...env } })
    const add = (id: string) => queue.add('slow', { task: 'slow', args: [], id, enqueuedAt: Date.now() }, { jobId: id })
    return { queue, worker, add }
  }

  it('lets the running job finish within the deadline, then exits with 0', async () => {
    const { queue, worker, add } = setup()
    const a = worker({ CLOSE_TIMEOUT: '20000' })
    await a.line('stdout', /^ready/)
    await add('within')
    await a.line('stdout', /^started within attempt 1/)
    a.signal('SIGTERM')
    await a.line('stdout', /^closing$/)
    // Closing: the job is still running and the process still up, until the task is released.
    expect(await queue.getJobState('within')).toBe('active')
    a.send('release within')
    expect(await a.line('stdout', /^closed /)).toBe('closed {"finished":["slow"],"unfinished":[]}')
    expect(await a.exited).toEqual({ code: 0, signal: null })
    expect(await queue.getJobState('within')).toBe('completed')
    await queue.close()
  })

  it('past the deadline aborts the job’s signal, names it, exits with 1, and another worker completes it', async () => {
    const { queue, worker, add } = setup()
    const a = worker({ CLOSE_TIMEOUT: '200', LOCK_DURATION: '1000', STALLED_INTERVAL: '200' })
    const procs = [a]
    onTestFailed(() => {
      for (const p of procs) console.log(p.stdout.join('\n'), '\n--stderr--\n', p.stderr.join('\n'))
    })
    await a.line('stdout', /^ready/)
    await add('past')
    const started = await a.line('stdout', /^started past attempt 1/)
    a.signal('SIGTERM')
    expect(await a.line('stdout', /^aborted past/)).toBe(
      'aborted past WorkerCloseTimeoutError: task "slow" was still running when closeWorker() reached its deadline; another worker takes it once its lock expires',
    )
    expect(await a.line('stdout', /^closed /)).toBe('closed {"finished":[],"unfinished":["slow"]}')
    expect(await a.exited).toEqual({ code: 1, signal: null })
    // Left active, not failed: once its lock expires, stalled-job recovery hands it to worker B.
    expect(await queue.getJobState('past')).toBe('active')
    const b = worker({ STALLED_INTERVAL: '200' })
    procs.push(b)
    const again = await b.line('stdout', /^started past/)
    expect(again).toMatch(/^started past attempt 2 pid \d+$/)
    expect(again.split(' pid ')[1]).not.toBe(started.split(' pid ')[1])
    b.send('release past')
    await b.line('stdout', /^done past attempt 2/)
    await expect.poll(() => queue.getJobState('past'), { timeout: 5_000 }).toBe('completed')
    await queue.close()
  })
})
