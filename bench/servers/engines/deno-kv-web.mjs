// The Deno KV web process of the engines benchmark, on Deno.serve, bundled whole (hono and the
// library) and run with `deno run --allow-all --unstable-kv --no-config`, on the KV file KV_PATH.
// `variant`: `bare` (no queue), `hand` (the handler awaits `kv.enqueue()` itself with the value and
// options denoKvQueue() would enqueue: the task message with its `backoffSchedule`, and its dead-letter
// key; no per-id marker), `hand-atomic` (the handler awaits the atomic commit denoKvQueue() writes
// for one task: the id's marker checked and set, and the enqueue), `ours` (one defineTask() task
// through denoKvQueue(): one atomic commit per request with a check and a set of the id's marker and
// the enqueue). `/__stats` answers the round
// trips to the store that queued jobs (`kv.enqueue()` calls and atomic commits), the jobs they
// carried (enqueues), and the process's CPU time in µs (node:process cpuUsage(), which Deno provides).
import process from 'node:process'
import { Hono } from 'hono'
import { denoKvQueue } from '../../../src/deno-kv/index.ts'
import { DEFAULT_PREFIX, KeyLayout } from '../../../src/deno-kv/kv.ts'
import { backoffScheduleFor } from '../../../src/deno-kv/limits.ts'
import { defineTask } from '../../../src/durable/index.ts'
import { backgroundTasks } from '../../../src/index.ts'

const variant = Deno.args[0]
const BODY = { hello: 'world' }
const writes = { trips: 0, jobs: 0 }
const kv = await Deno.openKv(Deno.env.get('KV_PATH'))

/** `kv` with its enqueues and commits counted. */
const counted = {
  enqueue(value, options) {
    writes.trips++
    writes.jobs++
    return kv.enqueue(value, options)
  },
  atomic() {
    const op = kv.atomic()
    let enqueued = 0
    const wrapped = {
      commit: () => {
        writes.trips++
        writes.jobs += enqueued
        return op.commit()
      },
    }
    for (const method of ['check', 'set', 'delete', 'sum', 'enqueue']) {
      wrapped[method] = (...args) => {
        if (method === 'enqueue') enqueued++
        op[method](...args)
        return wrapped
      }
    }
    return wrapped
  },
  get: (...args) => kv.get(...args),
  getMany: (...args) => kv.getMany(...args),
  set: (...args) => kv.set(...args),
  delete: (...args) => kv.delete(...args),
  list: (...args) => kv.list(...args),
  listenQueue: (...args) => kv.listenQueue(...args),
  close: () => kv.close(),
}

const app = new Hono()
app.get('/__stats', (c) => {
  const { user, system } = process.cpuUsage()
  return c.json({ ...writes, cpu: user + system })
})
const keys = new KeyLayout([...DEFAULT_PREFIX])
const backoffSchedule = backoffScheduleFor('hand', 'noop', undefined)
if (variant === 'bare') app.get('/', (c) => c.json(BODY))
else if (variant === 'hand') {
  app.get('/', async (c) => {
    const id = crypto.randomUUID()
    const value = { task: 'noop', args: [], id, enqueuedAt: Date.now(), backoffSchedule }
    await counted.enqueue(value, { backoffSchedule, keysIfUndelivered: [keys.dead(id)] })
    return c.json(BODY)
  })
} else if (variant === 'hand-atomic') {
  // The commit denoKvQueue() writes for one task, written by hand: the id's marker checked and set, and the enqueue.
  app.get('/', async (c) => {
    const id = crypto.randomUUID()
    const value = { task: 'noop', args: [], id, enqueuedAt: Date.now(), backoffSchedule }
    const { ok } = await counted
      .atomic()
      .check({ key: keys.sent(id), versionstamp: null })
      .set(keys.sent(id), { task: value.task, enqueuedAt: value.enqueuedAt }, { expireIn: 86_400_000 })
      .enqueue(value, { backoffSchedule, keysIfUndelivered: [keys.dead(id)] })
      .commit()
    if (!ok) throw new Error('commit failed')
    return c.json(BODY)
  })
} else if (variant === 'ours') {
  const noop = defineTask('noop', () => {})
  app.use(backgroundTasks({ transport: denoKvQueue(counted) }))
  app.get('/', (c) => {
    c.var.tasks.add(noop)
    return c.json(BODY)
  })
} else throw new Error(`unknown variant ${variant}`)

Deno.serve({ port: 0, hostname: '127.0.0.1', onListen: ({ port }) => console.log(JSON.stringify({ port })) }, app.fetch)
// A clean exit on SIGTERM, so that `--cpu-prof` writes its profile (bench/engines-profile.mjs).
Deno.addSignalListener('SIGTERM', () => {
  kv.close()
  Deno.exit(0)
})
