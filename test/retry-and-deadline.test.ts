import { describe, expect, it, vi } from 'vitest'
import { DEADLINE, Deadline } from '../src/deadline.ts'
import {
  attemptsFor,
  consumerDelaySeconds,
  defaultConsumerRetryDelaySeconds,
  defaultRetryDelay,
  defaultWorkerRetryDelay,
  isLastAttempt,
  MAX_CONSUMER_DELAY_SECONDS,
  retriesLeft,
  retryDelayFor,
} from '../src/retry.ts'
import { deferred } from './_support/helpers.ts'

describe('retry.ts: every retry default and delay rule', () => {
  it('the three defaults double from their first delay up to their cap', () => {
    expect([2, 3, 4, 9, 50].map(defaultRetryDelay)).toEqual([100, 200, 400, 10_000, 10_000])
    expect([2, 3, 4, 14, 50].map(defaultWorkerRetryDelay)).toEqual([1_000, 2_000, 4_000, 3_600_000, 3_600_000])
    expect([1, 2, 3, 11, 50].map(defaultConsumerRetryDelaySeconds)).toEqual([5, 10, 20, 3600, 3600])
  })

  it('a delay from a function that throws, or returns a bad number, is 0 and the throw is logged', () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      const boom = new Error('boom')
      expect(
        retryDelayFor(
          () => {
            throw boom
          },
          2,
          undefined,
        ),
      ).toBe(0)
      expect(log).toHaveBeenCalledWith('[background-tasks] the retryDelay function threw:', boom)
      for (const bad of [Number.NaN, -5, Number.POSITIVE_INFINITY]) expect(retryDelayFor(() => bad, 2, undefined)).toBe(0)
      expect(retryDelayFor((attempt, error) => attempt * (error as number), 3, 7)).toBe(21)
      expect(retryDelayFor(250, 9, undefined)).toBe(250)
    } finally {
      log.mockRestore()
    }
  })

  it("a Cloudflare delay is whole seconds, capped at the queue's 12 hours", () => {
    expect(consumerDelaySeconds(1.2, 1, undefined)).toBe(2)
    expect(consumerDelaySeconds(() => 10 ** 9, 1, undefined)).toBe(MAX_CONSUMER_DELAY_SECONDS)
  })

  it('attempts and the last attempt agree: a task with `retries` gets retries + 1 attempts', () => {
    expect(attemptsFor(undefined)).toBe(1)
    expect(attemptsFor(2)).toBe(3)
    // In-process: attempt n leaves a retry while n <= retries.
    expect([1, 2, 3].map((n) => retriesLeft(n, 2))).toEqual([true, true, false])
    // BullMQ: after attemptsMade finished attempts, the next is the last of attemptsFor(2).
    expect([0, 1, 2].map((made) => isLastAttempt(made, attemptsFor(2)))).toEqual([false, false, true])
    expect(isLastAttempt(0, undefined)).toBe(true)
  })
})

describe('deadline.ts: one deadline for a wait of several steps', () => {
  it('a step that ends first gives its value; the deadline passing first gives DEADLINE', async () => {
    const deadline = new Deadline(5)
    expect(await deadline.race(Promise.resolve('step'))).toBe('step')
    const never = deferred()
    expect(await deadline.race(never.promise)).toBe(DEADLINE)
    // What is left never drops below 1 ms, so that a timer of it still fires.
    expect(deadline.remaining()).toBeGreaterThanOrEqual(1)
    deadline.clear()
  })

  it('without a deadline, nothing ends the wait but the step', async () => {
    const deadline = new Deadline(false)
    expect(deadline.remaining()).toBe(false)
    expect(deadline.passed).toBe(false)
    const step = deferred<string>()
    const raced = deadline.race(step.promise)
    step.resolve('done')
    expect(await raced).toBe('done')
  })
})
