import { type Job, Queue, QueueEvents } from 'bullmq'
import { Hono } from 'hono'
import { afterEach, expect, it, vi } from 'vitest'
import { bullmqQueue, bullmqWorker, closeWorker, type DeadLetter, retryDeadLetter } from '../src/bullmq/index.ts'
import { defineTask } from '../src/durable/index.ts'
import { type BackgroundTasksEnv, backgroundTasks, type TaskContext, type TaskEndInfo, type TaskMessage } from '../src/index.ts'
import { settled } from '../src/testing.ts'
import { deferred } from './_support/helpers.ts'
import { describeWithRedis } from './_support/redis.ts'

// BullMQ against a real redis-server (test/_support/redis.ts). The worker runs in this process here; the
// web and worker processes, SIGKILL and SIGTERM are in test/bullmq-processes.test.ts.

let queueNumber = 0
const closers: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
  vi.restoreAllMocks()
})

describeWithRedis('BullMQ transport and worker against a real Redis', (redis) => {
  /** A fresh queue name, a Queue on it, and a worker factory with the same connection. */
  const setup = () => {
    const name = `tasks-${++queueNumber}`
    const connection = redis().connect()
    const queue = new Queue(name, { connection })
    const dead = new Queue(`${name}-dead`, { connection })
    const events = new QueueEvents(name, { connection: redis().connect() })
    closers.push(
      () => queue.close(),
      () => dead.close(),
      () => events.close(),
    )
    const startWorker = (tasks: Parameters<typeof bullmqWorker>[0]['tasks'], options: Partial<Parameters<typeof bullmqWorker>[0]> = {}) => {
      const worker = bullmqWorker({ queue: name, connection, tasks, env: { service: 'test' }, ...options })
      closers.push(() => closeWorker(worker, { timeout: 2_000 }))
      return worker
    }
    /** Resolves with the job once it has completed or failed for good. */
    const finished = async (id: string) => {
      await events.waitUntilReady()
      return new Promise<string>((resolve) => {
        const check = async () => {
          const state = await queue.getJobState(id)
          if (state === 'completed' || state === 'failed') resolve(state)
        }
        events.on('completed', ({ jobId }) => jobId === id && resolve('completed'))
        events.on('failed', ({ jobId }) => jobId === id && void check())
        void check()
      })
    }
    return { name, connection, queue, dead, events, startWorker, finished }
  }

  const message = (task: string, args: unknown[], id: string): TaskMessage => ({ task, args, id, enqueuedAt: Date.now() })

  it('sends a request’s durable task as a job whose id is the task id, before the response, and a worker runs it by name', async () => {
    const { queue, startWorker, finished } = setup()
    const runs: unknown[] = []
    const sendWelcomeEmail = defineTask('sendWelcomeEmail', async function (this: TaskContext<{ service: string }>, to: string) {
      runs.push({
        name: this.name,
        id: this.id,
        attempt: this.attempt,
        env: this.env.service,
        to,
        signal: this.signal instanceof AbortSignal,
      })
    })
    const ends: TaskEndInfo[] = []
    const app = new Hono<BackgroundTasksEnv>()
    app.use(backgroundTasks({ transport: bullmqQueue(queue), onTaskEnd: (task) => void ends.push(task) }))
    app.post('/register', (c) => {
      c.var.tasks.add(sendWelcomeEmail, 'ada@example.com')
      return c.text('created', 201)
    })
    const res = await app.request('/register', { method: 'POST' })
    // The job is in Redis by the time the response exists.
    expect(ends.map((end) => `${end.name} ${end.outcome}`)).toEqual(['sendWelcomeEmail sent'])
    const id = ends[0]!.id
    const job = await queue.getJob(id)
    expect(job?.name).toBe('sendWelcomeEmail')
    expect(job?.data).toEqual({ task: 'sendWelcomeEmail', args: ['ada@example.com'], id, enqueuedAt: expect.any(Number) })
    expect(job?.opts.attempts).toBe(1)
    expect(await res.text()).toBe('created')
    await settled(res)

    startWorker([sendWelcomeEmail])
    expect(await finished(id)).toBe('completed')
    expect(runs).toEqual([{ name: 'sendWelcomeEmail', id, attempt: 1, env: 'test', to: 'ada@example.com', signal: true }])
  })

  it('retries a task that fails twice with its backoff, and it then succeeds', async () => {
    const { queue, startWorker, finished } = setup()
    const attempts: string[] = []
    const delays: [number, string][] = []
    const flaky = defineTask(
      'flaky',
      async function (this: TaskContext) {
        attempts.push(`#${this.attempt} ${this.id}`)
        if (this.attempt < 3) throw new Error(`failure ${this.attempt}`)
      },
      {
        retries: 2,
        retryDelay: (attempt, error) => {
          delays.push([attempt, (error as Error).message])
          return 40 * attempt
        },
      },
    )
    const transport = bullmqQueue(queue)
    await transport.send([message('flaky', [], 'flaky-1')], undefined as never, [flaky.options])
    const job = await queue.getJob('flaky-1')
    expect(job?.opts).toMatchObject({ attempts: 3, backoff: { type: 'hono-background-tasks' } })

    const errors: string[] = []
    startWorker([flaky], { onError: (error, task) => void errors.push(`${task.name} #${task.attempt}: ${(error as Error).message}`) })
    expect(await finished('flaky-1')).toBe('completed')
    expect(attempts).toEqual(['#1 flaky-1', '#2 flaky-1', '#3 flaky-1'])
    expect(errors).toEqual(['flaky #1: failure 1', 'flaky #2: failure 2'])
    // The task's own retryDelay decided each wait: retry 2 after 80 ms, retry 3 after 120 ms.
    expect(delays).toEqual([
      [2, 'failure 1'],
      [3, 'failure 2'],
    ])
  })

  it('moves a task that always fails to the dead-letter queue with its last error, and re-runs it from there', async () => {
    const { name, queue, dead, startWorker, finished } = setup()
    let fail = true
    const runs: number[] = []
    const hopeless = defineTask(
      'hopeless',
      async function (this: TaskContext, label: string) {
        runs.push(this.attempt)
        if (fail) throw new TypeError(`${label} failed on attempt ${this.attempt}`)
      },
      { retries: 1, retryDelay: 0 },
    )
    await bullmqQueue(queue).send([message('hopeless', ['never'], 'hopeless-1')], undefined as never, [hopeless.options])
    startWorker([hopeless], { onError: () => {} })
    expect(await finished('hopeless-1')).toBe('failed')
    expect(runs).toEqual([1, 2])
    await vi.waitFor(async () => expect(await dead.getJob('hopeless-1')).toBeDefined())
    const letter = await dead.getJob('hopeless-1')
    expect(letter?.data as DeadLetter).toEqual({
      reason: 'failed',
      queue: name,
      jobId: 'hopeless-1',
      name: 'hopeless',
      data: { task: 'hopeless', args: ['never'], id: 'hopeless-1', enqueuedAt: expect.any(Number) },
      attempts: 2,
      error: { name: 'TypeError', message: 'never failed on attempt 2', stack: expect.stringContaining('TypeError') },
      failedAt: expect.any(Number),
      opts: { attempts: 2, backoff: { type: 'hono-background-tasks' } },
    })
    expect(await dead.getWaitingCount()).toBe(1)

    // Fixed: run it again from the dead-letter queue.
    fail = false
    await retryDeadLetter(dead, queue, 'hopeless-1')
    await vi.waitFor(async () => expect(await queue.getJobState('hopeless-1')).toBe('completed'))
    expect(runs).toEqual([1, 2, 1])
    expect(await dead.getJob('hopeless-1')).toBeUndefined()
  })

  it('never runs a job that names an unknown task or is malformed: both end in the dead-letter queue', async () => {
    const { queue, dead, startWorker, finished } = setup()
    const logged: string[] = []
    vi.spyOn(console, 'error').mockImplementation((line: unknown) => void logged.push(String(line)))
    const ran: unknown[] = []
    const record = defineTask('record', (...args: unknown[]) => void ran.push(args))
    await queue.add('dropTables', message('dropTables', [], 'unknown-1'), { jobId: 'unknown-1', attempts: 2 })
    // Names a known task, but `args` is not an array: `record` must not run anyway.
    await queue.add('record', { task: 'record', args: 'everything', id: 'malformed-1', enqueuedAt: 0 } as never, {
      jobId: 'malformed-1',
      attempts: 5,
    })
    await queue.add('record', 'not even an object' as never, { jobId: 'malformed-2' })
    startWorker([record])
    expect(await Promise.all(['unknown-1', 'malformed-1', 'malformed-2'].map(finished))).toEqual(['failed', 'failed', 'failed'])
    expect(ran).toEqual([])
    await vi.waitFor(async () => expect(await dead.getWaitingCount()).toBe(3))
    const letters = Object.fromEntries(
      (await dead.getWaiting()).map((job: Job) => [job.id, [job.data.reason, job.data.attempts, job.data.error.message]]),
    )
    expect(letters).toEqual({
      // Tried on each of its 2 attempts, in case a newer worker knows it; never run.
      'unknown-1': [
        'unknown-task',
        2,
        `job unknown-1 on queue "${queue.name}" names task "dropTables", which this worker does not know (it knows "record"); not run`,
      ],
      // Not task messages: dead-lettered at once, whatever their attempts.
      'malformed-1': ['malformed', 1, `job malformed-1 on queue "${queue.name}" is not a task message: \`args\` is not an array; not run`],
      'malformed-2': [
        'malformed',
        1,
        `job malformed-2 on queue "${queue.name}" is not a task message: expected an object like {"task", "args", "id", "enqueuedAt"}, got a string; not run`,
      ],
    })
    expect(logged.filter((line) => line.includes('not run'))).toHaveLength(4)
  })

  it('runs a repeated send of one id once', async () => {
    const { queue, startWorker, finished } = setup()
    const ran: string[] = []
    const record = defineTask('record', function (this: TaskContext, label: string) {
      ran.push(`${this.id} ${label}`)
    })
    const transport = bullmqQueue(queue)
    const once = message('record', ['once'], 'same-id')
    // Twice before any worker runs it, each reported as accepted.
    const first = await transport.send([once], undefined as never, [record.options])
    const second = await transport.send([once, message('record', ['other'], 'other-id')], undefined as never, [
      record.options,
      record.options,
    ])
    expect(first?.map((r) => r.status)).toEqual(['fulfilled'])
    expect(second?.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled'])
    startWorker([record])
    expect(await finished('same-id')).toBe('completed')
    // And again once it has completed: the completed job is kept, so the id is still taken.
    await transport.send([once], undefined as never, [record.options])
    await transport.send([message('record', ['sentinel'], 'sentinel')], undefined as never, [record.options])
    expect(await finished('sentinel')).toBe('completed')
    expect(ran.sort()).toEqual(['other-id other', 'same-id once', 'sentinel sentinel'])
  })

  it('sends the jobs of concurrent requests in one addBulk while another is in flight', async () => {
    const { queue } = setup()
    const record = defineTask('record', (label: string) => void label)
    const bulks: string[][] = []
    const held = deferred()
    // The real queue, with the first addBulk held back until the other two requests have added theirs.
    const watched = {
      name: queue.name,
      add: queue.add.bind(queue),
      addBulk: async (jobs: { name: string; data: TaskMessage }[]) => {
        bulks.push(jobs.map((job) => String(job.data.args[0])))
        if (bulks.length === 1) await held.promise
        return queue.addBulk(jobs)
      },
    }
    const app = new Hono<BackgroundTasksEnv>()
    app.use(backgroundTasks({ transport: bullmqQueue(watched) }))
    app.post('/:label', (c) => {
      c.var.tasks.add(record, `${c.req.param('label')}1`)
      c.var.tasks.add(record, `${c.req.param('label')}2`)
      return c.text('ok')
    })
    const first = app.request('/a', { method: 'POST' })
    await vi.waitFor(() => expect(bulks).toHaveLength(1))
    const others = [app.request('/b', { method: 'POST' }), app.request('/c', { method: 'POST' })]
    held.resolve()
    for (const res of await Promise.all([first, ...others])) expect(res.status).toBe(200)
    expect(bulks).toEqual([
      ['a1', 'a2'],
      ['b1', 'b2', 'c1', 'c2'],
    ])
    expect((await queue.getJobs(['waiting'])).map((job) => job.data.args[0]).sort()).toEqual(['a1', 'a2', 'b1', 'b2', 'c1', 'c2'])
  })

  it('reports each job of a send on its own: one refused, the others sent', async () => {
    const { queue } = setup()
    const ends: string[] = []
    const record = defineTask('record', (label: string) => void label)
    // A queue whose add() refuses one job, as Redis would refuse a write (OOM under noeviction, say).
    const refusing = {
      name: queue.name,
      add: (name: string, data: TaskMessage, opts?: object) =>
        data.args[0] === 'b' ? Promise.reject(new Error('OOM command not allowed')) : queue.add(name, data, opts),
    }
    const app = new Hono<BackgroundTasksEnv>()
    app.use(
      backgroundTasks({
        transport: bullmqQueue(refusing),
        onTaskEnd: (task) => void ends.push(`${task.args[0]} ${task.outcome}`),
        onError: () => {},
      }),
    )
    app.post('/', (c) => {
      for (const label of ['a', 'b', 'c']) c.var.tasks.add(record, label)
      return c.text('ok')
    })
    const res = await app.request('/', { method: 'POST' })
    await res.text()
    expect(ends).toEqual(['a sent', 'b error', 'c sent'])
    expect((await queue.getJobs(['waiting'])).map((job) => job.data.args[0]).sort()).toEqual(['a', 'c'])
  })

  it('closes a worker within its deadline, aborts and names what did not finish, and leaves its job active', async () => {
    const { queue, startWorker } = setup()
    const started = deferred()
    const aborted = deferred<unknown>()
    const stuck = defineTask('stuck', async function (this: TaskContext) {
      started.resolve()
      this.signal.addEventListener('abort', () => aborted.resolve(this.signal.reason))
      await new Promise(() => {})
    })
    await bullmqQueue(queue).send([message('stuck', [], 'stuck-1')], undefined as never, [stuck.options])
    const worker = startWorker([stuck], { worker: { lockDuration: 60_000 } })
    await started.promise
    const result = await closeWorker(worker, { timeout: 50 })
    expect(result).toEqual({ finished: [], unfinished: ['stuck'] })
    expect(String(await aborted.promise)).toBe(
      'WorkerCloseTimeoutError: task "stuck" was still running when closeWorker() reached its deadline; another worker takes it once its lock expires',
    )
    // Left active in Redis for stalled-job recovery, not failed.
    expect(await queue.getJobState('stuck-1')).toBe('active')
    expect(await closeWorker(worker)).toBe(result)
  })

  it('refuses bad options in one line', () => {
    expect(() => bullmqQueue({} as never)).toThrow(
      new TypeError('bullmqQueue: expected a BullMQ Queue (`new Queue(name, { connection })`), got `[object Object]` (object)'),
    )
    expect(() => bullmqQueue({ name: 'q', add: async () => {} }, { jobOptions: { jobId: 'x' } as never })).toThrow(
      new TypeError('bullmqQueue: `jobOptions.jobId` cannot be set here; it comes from the task (its id, `retries` and `retryDelay`)'),
    )
    expect(() => bullmqWorker({ queue: 'q', connection: {}, tasks: [() => {}] as never })).toThrow(
      new TypeError('bullmqWorker: expected every entry of `tasks` to come from defineTask(), got `anonymous` (function)'),
    )
    expect(() => closeWorker({} as never)).toThrow(
      new TypeError('closeWorker: expected a worker made by bullmqWorker(), got `[object Object]` (object)'),
    )
  })
})
