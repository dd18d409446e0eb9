import { Hono } from 'hono'
import type { Job, JobInsert, JobResult } from 'pg-boss'
import { afterEach, expect, it, vi } from 'vitest'
import { defineTask } from '../src/durable/index.ts'
import { type BackgroundTasksEnv, backgroundTasks, type TaskContext, type TaskMessage } from '../src/index.ts'
import { pgBossQueue, pgBossWorker, readDeadLetters } from '../src/pg-boss/index.ts'
import { settled } from '../src/testing.ts'
import { deferred } from './_support/helpers.ts'

// pgBossQueue() and pgBossWorker() against a fake PgBoss, in this process: the option errors, the
// mapping of a task's retries, group commit, and the worker's decision for each outcome. The real
// PostgreSQL and the processes are in test/pg-boss-processes.test.ts (pg-boss needs Node 22).

afterEach(() => {
  vi.restoreAllMocks()
})

/** A fake PgBoss that records queue creations and inserts; `insert` resolves when `release()` is called, if `hold`. */
const fakeBoss = ({ hold = false } = {}) => {
  const created: [string, unknown][] = []
  const inserts: JobInsert[][] = []
  const queues = new Map<string, { deadLetter?: string }>()
  let held = deferred()
  let handler: ((jobs: Job<unknown>[]) => Promise<JobResult[]>) | undefined
  const offWork = deferred()
  const boss = {
    async getQueue(name: string) {
      const queue = queues.get(name)
      return queue ? { name, ...queue } : null
    },
    async createQueue(name: string, options: { deadLetter?: string } = {}) {
      created.push([name, options])
      if (!queues.has(name)) queues.set(name, options)
    },
    async insert(_name: string, jobs: JobInsert[]) {
      inserts.push(jobs)
      if (hold) await held.promise
      return null
    },
    async work(_name: string, _options: unknown, fn: typeof handler) {
      handler = fn
      return 'work-id'
    },
    offWork: () => offWork.promise,
  }
  return {
    boss: boss as never,
    created,
    inserts,
    queues,
    release() {
      const current = held
      held = deferred()
      current.resolve()
    },
    refuse(error: Error) {
      const current = held
      held = deferred()
      current.reject(error)
    },
    handle: (jobs: Job<unknown>[]) => handler!(jobs),
    offWork,
  }
}

const message = (task: string, args: unknown[] = [], id: string = crypto.randomUUID()): TaskMessage => ({ task, args, id, enqueuedAt: 1 })

it('pgBossQueue sends one job per task: its id the task id, its data the message, its retries from the task', async () => {
  const fake = fakeBoss()
  const transport = pgBossQueue(fake.boss, { queue: 'mail', jobOptions: { priority: 5 } })
  expect(transport).toMatchObject({ system: 'pg-boss', destination: 'mail', beforeResponse: true })
  const [a, b, c] = [message('a'), message('b'), message('c')]
  await transport.send([a, b, c], undefined as never, [{}, { retries: 2, retryDelay: 1500 }, { retries: 4 }])
  expect(fake.inserts).toEqual([
    [
      // The data says the task's own retries; retryLimit has one more, the spare delivery.
      {
        priority: 5,
        heartbeatSeconds: 30,
        id: a.id,
        data: { ...a, retries: 0 },
        retryLimit: 1,
        retryDelay: 1,
        retryBackoff: true,
        retryDelayMax: 3600,
      },
      { priority: 5, heartbeatSeconds: 30, id: b.id, data: { ...b, retries: 2 }, retryLimit: 3, retryDelay: 2, retryBackoff: false },
      {
        priority: 5,
        heartbeatSeconds: 30,
        id: c.id,
        data: { ...c, retries: 4 },
        retryLimit: 5,
        retryDelay: 1,
        retryBackoff: true,
        retryDelayMax: 3600,
      },
    ],
  ])
  // The dead-letter queue first, then the queue that names it; once.
  await transport.send([message('d')], undefined as never, [{}])
  expect(fake.created).toEqual([
    ['mail-dead', {}],
    ['mail', { retryLimit: 1, retryDelay: 1, retryBackoff: true, retryDelayMax: 3600, heartbeatSeconds: 30, deadLetter: 'mail-dead' }],
  ])
})

it('pgBossQueue groups sends from concurrent requests into one insert, and a refused insert fails only its own sends', async () => {
  const fake = fakeBoss({ hold: true })
  const transport = pgBossQueue(fake.boss)
  const first = transport.send([message('a')], undefined as never, [{}])
  await vi.waitFor(() => expect(fake.inserts).toHaveLength(1))
  const second = transport.send([message('b')], undefined as never, [{}])
  const third = transport.send([message('c'), message('d')], undefined as never, [{}, {}])
  fake.release()
  expect(await first).toEqual([{ status: 'fulfilled', value: undefined }])
  await vi.waitFor(() => expect(fake.inserts).toHaveLength(2))
  expect(fake.inserts.map((jobs) => jobs.map((job) => (job.data as TaskMessage).task))).toEqual([['a'], ['b', 'c', 'd']])
  const lost = new Error('connection lost')
  fake.refuse(lost)
  expect(await second).toEqual([{ status: 'rejected', reason: lost }])
  expect(await third).toEqual([
    { status: 'rejected', reason: lost },
    { status: 'rejected', reason: lost },
  ])
})

it('pgBossQueue refuses a message whose id is not a UUID on its own, so that it cannot fail the sends grouped with it', async () => {
  const fake = fakeBoss()
  const transport = pgBossQueue(fake.boss)
  const good = message('good')
  const results = await transport.send([message('bad', [], 'same-id'), good], undefined as never, [{}, {}])
  expect(results).toEqual([
    { status: 'rejected', reason: new TypeError('pgBossQueue: task "bad" has the id `"same-id"` (string); pg-boss job ids are UUIDs') },
    { status: 'fulfilled', value: undefined },
  ])
  expect(fake.inserts.flat().map((job) => job.id)).toEqual([good.id])
})

it('pgBossQueue tries to create the queue again after a failure', async () => {
  const fake = fakeBoss()
  const boss = fake.boss as { createQueue: (name: string) => Promise<void> }
  const create = boss.createQueue
  boss.createQueue = async () => {
    boss.createQueue = create
    throw new Error('database starting up')
  }
  const transport = pgBossQueue(fake.boss)
  expect(await transport.send([message('a')], undefined as never, [{}])).toEqual([
    { status: 'rejected', reason: new Error('database starting up') },
  ])
  await transport.send([message('b')], undefined as never, [{}])
  expect(fake.inserts.flat().map((job) => (job.data as TaskMessage).task)).toEqual(['b'])
  expect(fake.created.map(([name]) => name)).toEqual(['tasks-dead', 'tasks'])
})

it('add() refuses a task whose retryDelay is a function, at the call site, naming the task', async () => {
  const fake = fakeBoss()
  const backoff = defineTask('backoff', () => {}, { retries: 2, retryDelay: (attempt) => attempt * 1000 })
  const fixed = defineTask('fixed', () => {}, { retries: 2, retryDelay: 1000 })
  const app = new Hono<BackgroundTasksEnv>()
  app.use(backgroundTasks({ transport: pgBossQueue(fake.boss) }))
  const errors: string[] = []
  app.post('/', (c) => {
    for (const task of [backoff, fixed]) {
      try {
        c.var.tasks.add(task)
      } catch (error) {
        errors.push((error as Error).message)
      }
    }
    return c.text('ok', 201)
  })
  const res = await app.request('/', { method: 'POST' })
  expect(res.status).toBe(201)
  await settled(res)
  expect(errors).toEqual([
    'pgBossQueue: task "backoff" has a function `retryDelay`; pg-boss fixes a job\'s retry delay when it is inserted, so give it in milliseconds',
  ])
  expect(fake.inserts.flat().map((job) => [(job.data as TaskMessage).task, job.retryDelay])).toEqual([['fixed', 1]])
})

it('pgBossQueue refuses bad options in one line', () => {
  const { boss } = fakeBoss()
  expect(() => pgBossQueue({} as never)).toThrow(
    new TypeError('pgBossQueue: expected a PgBoss instance (`new PgBoss(connectionString)`), got `[object Object]` (object)'),
  )
  expect(() => pgBossQueue(boss, { queues: 'x' } as never)).toThrow(
    new TypeError('pgBossQueue: unknown option `queues`; known options are `queue`, `deadLetterQueue`, `jobOptions`, `beforeResponse`'),
  )
  for (const key of ['id', 'data', 'retryLimit', 'retryDelay', 'retryBackoff', 'retryDelayMax', 'deadLetter']) {
    expect(() => pgBossQueue(boss, { jobOptions: { [key]: 1 } as never })).toThrow(
      new TypeError(
        `pgBossQueue: \`jobOptions.${key}\` cannot be set here; it comes from the task (its id, arguments, \`retries\` and \`retryDelay\`) and the queue's dead-letter queue`,
      ),
    )
  }
  expect(() => pgBossQueue(boss, { jobOptions: null as never })).toThrow(
    new TypeError('pgBossQueue: expected `jobOptions` to be an object of pg-boss job options, got `null`'),
  )
  expect(() => pgBossQueue(boss, { beforeResponse: 'yes' as never })).toThrow(
    new TypeError('pgBossQueue: expected `beforeResponse` to be a boolean, got `"yes"` (string)'),
  )
  expect(() => pgBossQueue(boss, { queue: '' })).toThrow(
    new TypeError('pgBossQueue: expected `queue` to be a queue name, got `""` (string)'),
  )
  expect(() => pgBossQueue(boss, { queue: 'a', deadLetterQueue: 'a' })).toThrow(
    new TypeError('pgBossQueue: expected `deadLetterQueue` to differ from `queue`, got "a" for both'),
  )
})

it('pgBossWorker refuses bad options in one line', async () => {
  const { boss } = fakeBoss()
  const task = defineTask('t', () => {})
  await expect(pgBossWorker({ boss: {} as never, tasks: [task] })).rejects.toThrow(
    new TypeError('pgBossWorker: expected `boss` to be a started PgBoss instance, got `[object Object]` (object)'),
  )
  await expect(pgBossWorker({ boss, tasks: [() => {}] as never })).rejects.toThrow(
    new TypeError('pgBossWorker: expected every entry of `tasks` to come from defineTask(), got `anonymous` (function)'),
  )
  await expect(pgBossWorker({ boss, tasks: [task], work: { perJobResults: false } as never })).rejects.toThrow(
    new TypeError('pgBossWorker: `work.perJobResults` cannot be set here; the worker settles each job itself'),
  )
  await expect(pgBossWorker({ boss, tasks: [task], work: { localConcurrency: 0 } })).rejects.toThrow(
    new RangeError('pgBossWorker: expected `work.localConcurrency` to be a whole number >= 1, got `0` (number)'),
  )
  await expect(pgBossWorker({ boss, tasks: [task], timeout: -1 })).rejects.toThrow(
    new RangeError('pgBossWorker: expected `timeout` to be more than 0 and at most 2147483647 ms, or `false`, got `-1` (number)'),
  )
  await expect(pgBossWorker({ boss, tasks: [task], deadLetterQueue: 'tasks' })).rejects.toThrow(
    new TypeError('pgBossWorker: expected `deadLetterQueue` to differ from `queue`, got "tasks" for both'),
  )
  await expect(pgBossWorker({ boss, tasks: [task], onError: 'log' as never })).rejects.toThrow(
    new TypeError('pgBossWorker: expected `onError` to be a function, got `"log"` (string)'),
  )
})

it('pgBossWorker refuses a queue that sends its dead letters elsewhere', async () => {
  const fake = fakeBoss()
  fake.queues.set('tasks', { deadLetter: 'graveyard' })
  await expect(pgBossWorker({ boss: fake.boss, tasks: [] })).rejects.toThrow(
    new Error(
      'pgBossWorker: queue "tasks" sends its dead letters to "graveyard", not "tasks-dead"; pass that `deadLetterQueue`, or change the queue with boss.updateQueue()',
    ),
  )
})

/** A job as pg-boss hands it to a `perJobResults` handler: `retries` is what pgBossQueue() puts in its data. */
const job = (data: object, retryCount: number, retries: number, id: string = crypto.randomUUID()) =>
  ({ id, data: { ...data, retries }, retryCount, signal: new AbortController().signal }) as Job<unknown>

it('pgBossWorker completes, retries or dead-letters each job of a batch with the reason and the error', async () => {
  const fake = fakeBoss()
  const seen: string[] = []
  const flaky = defineTask('flaky', function (this: TaskContext<{ service: string }>, label: string) {
    seen.push(`${label} ${this.id} attempt ${this.attempt} ${this.env.service}`)
    if (label !== 'ok') throw new Error(`${label} failed`)
  })
  const errors: string[] = []
  vi.spyOn(console, 'error').mockImplementation(() => {})
  await pgBossWorker({
    boss: fake.boss,
    tasks: [flaky],
    env: { service: 'test' },
    onError: (error, info) => {
      errors.push(`${info.name} ${info.attempt} ${(error as Error).message}`)
    },
  })
  const ok = message('flaky', ['ok'])
  const retry = message('flaky', ['retry'])
  const last = message('flaky', ['last'])
  const jobs = [
    job(ok, 0, 0),
    job(retry, 0, 2),
    job(last, 2, 2),
    job({ task: 'ghost', args: [], id: 'g', enqueuedAt: 1 }, 0, 2),
    job({ task: 'ghost', args: [], id: 'g2', enqueuedAt: 1 }, 2, 2),
    job({ nope: true }, 0, 2),
  ]
  const results = await fake.handle(jobs)
  const stripped = results.map(({ id, status, output }) => {
    const { reason, attempt, error } = (output ?? {}) as { reason?: string; attempt?: number; error?: { message: string } }
    return [jobs.findIndex((j) => j.id === id), status, reason, attempt, error?.message]
  })
  expect(stripped).toEqual([
    [0, 'completed', undefined, undefined, undefined],
    [1, 'failed', 'failed', 1, 'retry failed'],
    [2, 'deadletter', 'failed', 3, 'last failed'],
    [
      3,
      'failed',
      'unknown-task',
      1,
      `job ${jobs[3]!.id} on queue "tasks" names task "ghost", which this worker does not know (it knows "flaky"); not run`,
    ],
    [4, 'deadletter', 'unknown-task', 3, expect.stringContaining('names task "ghost"')],
    [
      5,
      'deadletter',
      'malformed',
      1,
      `job ${jobs[5]!.id} on queue "tasks" is not a task message: \`task\` is not a non-empty string; not run`,
    ],
  ])
  expect(seen).toEqual([`ok ${ok.id} attempt 1 test`, `retry ${retry.id} attempt 1 test`, `last ${last.id} attempt 3 test`])
  expect(errors).toEqual(['flaky 1 retry failed', 'flaky 3 last failed'])
})

it('pgBossWorker leaves a job whose data does not say its retries (sent another way) to the job’s retryLimit', async () => {
  const fake = fakeBoss()
  vi.spyOn(console, 'error').mockImplementation(() => {})
  const broken = defineTask('broken', () => {
    throw new Error('broken')
  })
  await pgBossWorker({ boss: fake.boss, tasks: [broken], onError: () => {} })
  const bare = { id: crypto.randomUUID(), data: message('broken'), retryCount: 4, signal: new AbortController().signal } as Job<unknown>
  const [result] = await fake.handle([bare])
  // Not 'deadletter': pg-boss decides from the job's own retryLimit, and dead-letters it when that is spent.
  expect(result).toMatchObject({ id: bare.id, status: 'failed', output: { reason: 'failed', attempt: 5 } })
})

it('pgBossWorker stop() names the task still running at its deadline, aborts its signal and hands its job back', async () => {
  const fake = fakeBoss()
  const release = deferred()
  const started = deferred()
  let reason: unknown
  const slow = defineTask('slow', async function (this: TaskContext) {
    this.signal.addEventListener('abort', () => {
      reason = this.signal.reason
    })
    started.resolve()
    await release.promise
  })
  const quick = defineTask('quick', () => {})
  const worker = await pgBossWorker({ boss: fake.boss, tasks: [slow, quick] })
  expect(worker).toMatchObject({ queue: 'tasks', id: 'work-id' })
  const handled = fake.handle([job(message('slow'), 0, 1)])
  await started.promise
  const stopping = worker.stop({ timeout: 20 })
  // What pg-boss does once offWork() is called: the running batch settles, then offWork resolves.
  const results = await handled
  fake.offWork.resolve()
  expect(await stopping).toEqual({ finished: [], unfinished: ['slow'] })
  expect(worker.stop()).toBe(stopping)
  expect(String(reason)).toBe(
    'WorkerStopTimeoutError: task "slow" was still running when stop() reached its deadline; its job goes back to the queue for another worker',
  )
  expect(results).toMatchObject([{ status: 'failed', output: { reason: 'stopped', attempt: 1 } }])
  release.resolve()
  expect(() => worker.stop({ timeout: 0 })).toThrow(
    new RangeError('pgBossWorker().stop: expected `timeout` to be more than 0 and at most 2147483647 ms, or `false`, got `0` (number)'),
  )
})

it('readDeadLetters reads why each job is there, its task and its last error', async () => {
  const letters = [
    {
      id: 'd1',
      data: { task: 'broken', args: [], id: 'task-1', enqueuedAt: 1 },
      sourceName: 'tasks',
      sourceId: 'task-1',
      sourceRetryCount: 1,
      sourceOutput: { reason: 'failed', error: { name: 'Error', message: 'boom' }, attempt: 2 },
      createdOn: new Date(5),
    },
    {
      id: 'd2',
      data: { task: 'slow', args: [], id: 'task-2', enqueuedAt: 1 },
      sourceName: 'tasks',
      sourceId: 'task-2',
      sourceRetryCount: 1,
      sourceOutput: { value: { message: 'job heartbeat timeout' } },
      createdOn: new Date(6),
    },
  ]
  const calls: unknown[] = []
  const boss = {
    findJobs: async (...args: unknown[]) => {
      calls.push(args)
      return letters
    },
  }
  expect(await readDeadLetters(boss as never, { deadLetterQueue: 'tasks-dead' })).toEqual([
    {
      id: 'd1',
      reason: 'failed',
      queue: 'tasks',
      jobId: 'task-1',
      task: 'broken',
      taskId: 'task-1',
      data: letters[0]!.data,
      attempts: 2,
      error: { name: 'Error', message: 'boom' },
      failedAt: new Date(5),
    },
    {
      id: 'd2',
      reason: 'interrupted',
      queue: 'tasks',
      jobId: 'task-2',
      task: 'slow',
      taskId: 'task-2',
      data: letters[1]!.data,
      attempts: 2,
      error: { name: 'Error', message: 'job heartbeat timeout' },
      failedAt: new Date(6),
    },
  ])
  expect(calls).toEqual([['tasks-dead', { queued: true, limit: 1000 }]])
  await expect(readDeadLetters(boss as never, { limit: 0 })).rejects.toThrow(
    new RangeError('readDeadLetters: expected `limit` to be a whole number from 1 to 100000, got `0` (number)'),
  )
})
