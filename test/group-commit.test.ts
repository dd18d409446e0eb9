import { expect, it } from 'vitest'
import { GroupCommit } from '../src/durable/group-commit.ts'
import type { TaskSendResult } from '../src/types.ts'
import { deferred } from './_support/helpers.ts'

// The group commit the BullMQ and pg-boss transports share: what goes in which write, and what
// each caller is told. A write is a deferred promise, so that the test decides when it ends.

const recorder = () => {
  const writes: { items: string[]; done: ReturnType<typeof deferred<TaskSendResult[] | undefined>> }[] = []
  const commit = new GroupCommit<string>((items) => {
    const done = deferred<TaskSendResult[] | undefined>()
    writes.push({ items, done })
    return done.promise
  }, 4)
  return { writes, commit }
}

it('writes at once when no write is in flight, and groups what arrives meanwhile into the next write', async () => {
  const { writes, commit } = recorder()
  const first = commit.send(['a1'])
  expect(writes.map((w) => w.items)).toEqual([['a1']])
  const second = commit.send(['b1', 'b2'])
  const third = commit.send(['c1'])
  // Nothing else goes out while the first write is in flight.
  expect(writes).toHaveLength(1)
  writes[0]!.done.resolve(undefined)
  expect(await first).toEqual([{ status: 'fulfilled', value: undefined }])
  expect(writes.map((w) => w.items)).toEqual([['a1'], ['b1', 'b2', 'c1']])
  writes[1]!.done.resolve(undefined)
  expect(await second).toEqual([
    { status: 'fulfilled', value: undefined },
    { status: 'fulfilled', value: undefined },
  ])
  expect(await third).toEqual([{ status: 'fulfilled', value: undefined }])
  // Idle again: the next send goes at once.
  void commit.send(['d1'])
  expect(writes.map((w) => w.items)).toEqual([['a1'], ['b1', 'b2', 'c1'], ['d1']])
})

it('refuses only the jobs of a failed write, and the next write goes on', async () => {
  const { writes, commit } = recorder()
  const first = commit.send(['a1', 'a2'])
  const second = commit.send(['b1'])
  const refusal = new Error('connection reset')
  writes[0]!.done.reject(refusal)
  expect(await first).toEqual([
    { status: 'rejected', reason: refusal },
    { status: 'rejected', reason: refusal },
  ])
  expect(writes.map((w) => w.items)).toEqual([['a1', 'a2'], ['b1']])
  writes[1]!.done.resolve(undefined)
  expect(await second).toEqual([{ status: 'fulfilled', value: undefined }])
})

it('keeps a write within its limit without splitting one request, and survives a write that throws at once', async () => {
  const { writes, commit } = recorder()
  void commit.send(['a1'])
  const big = commit.send(['b1', 'b2', 'b3', 'b4', 'b5'])
  const small = commit.send(['c1', 'c2'])
  writes[0]!.done.resolve(undefined)
  // The 5-job request goes alone (over the limit of 4, but never split); the next one waits for its own write.
  await new Promise((resolve) => setImmediate(resolve))
  expect(writes.map((w) => w.items)).toEqual([['a1'], ['b1', 'b2', 'b3', 'b4', 'b5']])
  writes[1]!.done.resolve(undefined)
  expect(await big).toHaveLength(5)
  expect(writes.map((w) => w.items).at(-1)).toEqual(['c1', 'c2'])
  writes[2]!.done.resolve(undefined)
  await small

  const broken = new GroupCommit<string>(() => {
    throw new TypeError('not a queue')
  }, 4)
  expect(await broken.send(['x'])).toEqual([{ status: 'rejected', reason: new TypeError('not a queue') }])
})

it('reports what a write says of each job, when it says so, to the request each came from', async () => {
  const { writes, commit } = recorder()
  void commit.send(['a1'])
  const second = commit.send(['b1', 'b2'])
  const third = commit.send(['c1'])
  writes[0]!.done.resolve(undefined)
  await new Promise((resolve) => setImmediate(resolve))
  expect(writes.map((w) => w.items).at(-1)).toEqual(['b1', 'b2', 'c1'])
  const full = new RangeError('commit over its limit')
  writes[1]!.done.resolve([
    { status: 'fulfilled', value: undefined },
    { status: 'rejected', reason: full },
    { status: 'fulfilled', value: undefined },
  ])
  expect(await second).toEqual([
    { status: 'fulfilled', value: undefined },
    { status: 'rejected', reason: full },
  ])
  expect(await third).toEqual([{ status: 'fulfilled', value: undefined }])
})

it('refuses every job of a write that gives a result too few, rather than leave one unreported', async () => {
  const { writes, commit } = recorder()
  const sent = commit.send(['a1', 'a2'])
  writes[0]!.done.resolve([{ status: 'fulfilled', value: undefined }])
  const refusal = new TypeError('GroupCommit: the write gave 1 results for 2 jobs; expected one per job')
  expect(await sent).toEqual([
    { status: 'rejected', reason: refusal },
    { status: 'rejected', reason: refusal },
  ])
})
