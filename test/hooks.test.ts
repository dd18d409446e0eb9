import { describe, expect, it } from 'vitest'
import { type TaskEndInfo, task } from '../src/index.ts'
import { runWithTasks as run } from './_support/helpers.ts'

describe('visibility: hooks and logs [design: Visibility]', () => {
  it('reports each attempt to onTaskStart and onTaskEnd with name, attempt, duration and outcome', async () => {
    const seen: string[] = []
    const ends: TaskEndInfo[] = []
    await run(
      {
        retries: 1,
        retryDelay: 0,
        onError: () => {},
        onTaskStart: (info, c) => {
          seen.push(`start ${info.name} #${info.attempt} ${c.req.method} ${c.req.path}`)
        },
        onTaskEnd: (info) => {
          seen.push(`end ${info.name} #${info.attempt} ${info.outcome}${info.willRetry ? ' (retry)' : ''}`)
          ends.push(info)
        },
      },
      (tasks) => {
        tasks.add(function sendEmail(_to: string) {}, 'ada@example.com')
        tasks.add(function failOnce(this: { attempt: number }) {
          if (this.attempt === 1) throw new Error('first')
        })
      },
    )
    expect(seen).toEqual([
      'start sendEmail #1 POST /register',
      'end sendEmail #1 success',
      'start failOnce #1 POST /register',
      'end failOnce #1 error (retry)',
      'start failOnce #2 POST /register',
      'end failOnce #2 success',
    ])
    expect(ends[0]?.args).toEqual(['ada@example.com'])
    for (const end of ends) expect(end.duration).toBeGreaterThanOrEqual(0)
    expect(ends[1]?.error).toEqual(new Error('first'))
  })

  it('logs a line per attempt with log: true-style printers', async () => {
    const lines: string[] = []
    await run({ log: (line) => lines.push(line.replace(/\d+ ms/, 'N ms')), onError: () => {} }, (tasks) => {
      tasks.add(function sendEmail() {})
      tasks.add(
        task(
          () => {
            throw new Error('smtp down')
          },
          { name: 'notify' },
        ),
      )
    })
    expect(lines).toEqual([
      '[background-tasks] sendEmail: success in N ms (POST /register)',
      '[background-tasks] notify: error in N ms (POST /register)',
    ])
  })

  it('logs a failed task with its name and request by default, and survives hooks that throw', async () => {
    const errors: unknown[][] = []
    const original = console.error
    console.error = (...args: unknown[]) => errors.push(args)
    const ran: string[] = []
    try {
      await run(
        {
          retries: 2,
          retryDelay: () => 0,
          onTaskStart: () => {
            throw new Error('start hook broke')
          },
          onTaskEnd: async () => Promise.reject(new Error('end hook broke')),
        },
        (tasks) => {
          tasks.add(function sendEmail() {
            throw new Error('smtp down')
          })
          tasks.add(function next() {
            ran.push('next')
          })
        },
      )
    } finally {
      console.error = original
    }
    expect(ran).toEqual(['next'])
    const failure = errors.find((e) => String(e[0]).includes('failed'))
    expect(failure?.[0]).toBe('[background-tasks] task "sendEmail" failed after 3 attempts (POST /register):')
    expect(failure?.[1]).toEqual(new Error('smtp down'))
    expect(errors.filter((e) => String(e[0]).includes('the onTaskStart hook threw'))).toHaveLength(4)
    expect(errors.filter((e) => String(e[0]).includes('the onTaskEnd hook threw'))).toHaveLength(4)
  })

  it('survives an onError that throws', async () => {
    const errors: unknown[][] = []
    const original = console.error
    console.error = (...args: unknown[]) => errors.push(args)
    const ran: string[] = []
    try {
      await run(
        {
          onError: () => {
            throw new Error('reporter down')
          },
        },
        (tasks) => {
          tasks.add(() => {
            throw new Error('boom')
          })
          tasks.add(() => ran.push('next'))
        },
      )
    } finally {
      console.error = original
    }
    expect(ran).toEqual(['next'])
    expect(String(errors[0]?.[0])).toBe('[background-tasks] the onError hook threw:')
  })
})
