import { type Context, Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { Entry } from '../src/entry.ts'
import { resolveOptions } from '../src/options.ts'
import { deferred } from './_support/helpers.ts'

/** A Context to run entries with: the one a real request gets. */
const contextOf = async (): Promise<Context> => {
  const app = new Hono()
  let context: Context | undefined
  app.get('/', (c) => {
    context = c
    return c.text('ok')
  })
  await app.request('/')
  return context as Context
}

describe('Entry: one added task, the only writer of its own state', () => {
  it('waiting -> running -> done for a task that returns at once; nothing to await', async () => {
    const calls: string[] = []
    const entry = new Entry({ fn: (x: string) => calls.push(x), args: ['a'] })
    expect(entry.state).toBe('waiting')
    expect(entry.run(await contextOf(), resolveOptions())).toBeUndefined()
    expect(entry.state).toBe('done')
    expect(calls).toEqual(['a'])
  })

  it('running until its promise settles, then done; abort() reaches the attempt running now', async () => {
    const gate = deferred()
    let seen: AbortSignal | undefined
    const entry = new Entry({
      fn: async function (this: { signal: AbortSignal }) {
        seen = this.signal
        await gate.promise
      },
      args: [],
    })
    const run = entry.run(await contextOf(), resolveOptions({ onError: () => {} }))
    expect(entry.state).toBe('running')
    entry.abort(new Error('stop'))
    expect(seen?.aborted).toBe(true)
    gate.resolve()
    await run
    expect(entry.state).toBe('done')
  })

  it('a skipped or sent entry cannot be moved back: markSkipped() and markSending() apply only while waiting', () => {
    const skipped = new Entry({ fn: () => {}, args: [] })
    skipped.markSkipped()
    skipped.markSending()
    expect(skipped.state).toBe('skipped')

    const sent = new Entry({ fn: () => {}, args: [] })
    sent.markSending()
    expect(sent.state).toBe('running')
    sent.markSkipped()
    expect(sent.state).toBe('running')
    sent.markSent()
    expect(sent.state).toBe('done')
  })

  it('is named by its options, else by its function; its id is made once', () => {
    function sendEmail() {}
    const named = new Entry({ fn: sendEmail, args: [], options: { name: 'welcome' } })
    const bare = new Entry({ fn: sendEmail, args: [] })
    expect([named.name, bare.name]).toEqual(['welcome', 'sendEmail'])
    expect(bare.id).toBe(bare.id)
    expect(bare.id).not.toBe(named.id)
  })
})
