import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createContextApp } from '../fixtures/context-app.ts'

// workerd with nodejs_compat (test/workerd/wrangler.toml): AsyncLocalStorage follows the task too.
describe("workerd: tasks run in their request's async context [design: Context travels with the work]", () => {
  it("getContext() in a task and in the task it adds gives that request's context, 200 requests at once", async () => {
    const { app, open, seen } = createContextApp()
    const ids = Array.from({ length: 200 }, (_, i) => `req-${i}`)
    const ctxs = ids.map(() => createExecutionContext())
    const bodies = await Promise.all(
      ids.map(async (id, i) => (await app.fetch(new Request(`http://worker/ctx/r/${id}`), {}, ctxs[i])).text()),
    )
    expect(bodies).toEqual(ids)
    open('r')
    const records = await seen('r', ids.length)
    await Promise.all(ctxs.map((ctx) => waitOnExecutionContext(ctx)))
    expect(records.filter((s) => s.task !== s.id || s.nested !== s.id)).toEqual([])
    expect(new Set(records.map((s) => s.id)).size).toBe(ids.length)
  })
})
