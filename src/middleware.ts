import type { Context, MiddlewareHandler } from 'hono'
import { whenFinished } from './finished.ts'
import { findLifetime } from './lifetime.ts'
import { type ResolvedOptions, resolveOptions } from './options.ts'
import { enter, leave, track } from './registry.ts'
import { runTasks, startTasks } from './run.ts'
import { recordWork } from './settled.ts'
import { TaskList } from './tasks.ts'
import type { BackgroundTasksEnv, BackgroundTasksOptions } from './types.ts'

/**
 * Hands the list's work to whoever keeps it alive, once, and returns the response to send.
 * `canWrap` is true while the response has not left the middleware yet.
 */
const handOff = (
  c: Context,
  list: TaskList,
  options: ResolvedOptions,
  res: Response | undefined,
  canWrap: boolean,
): Response | undefined | Promise<Response | undefined> => {
  list.onAdd = undefined
  const lifetime = findLifetime(c, options.waitUntil)
  // AWS Lambda freezes once it has replied: the client waits for the tasks rather than lose them.
  if (lifetime.kind === 'before-response') return runTasks(list).then(() => res)
  const work = new Promise<void>((resolve) => {
    list.finish = resolve
  })
  if (lifetime.kind === 'in-process') {
    track(list, work)
  } else {
    try {
      lifetime.waitUntil(work)
    } catch (error) {
      // The tasks still run; only their lifetime is not guaranteed.
      console.error(`[background-tasks] waitUntil from ${lifetime.source} threw; the tasks run without it:`, error)
    }
  }
  const response = whenFinished(c, res, canWrap, () => startTasks(list))
  if (response instanceof Promise) return response.then((watched) => recordWork(watched, work))
  if (response) recordWork(response, work)
  return response
}

/** Tasks added after the handler returned (inside a stream callback) are handed off when added. */
function lateHandOff(this: TaskList): void {
  try {
    handOff(this.c, this, this.options, this.response, false)
  } catch (error) {
    console.error('[background-tasks] could not hand off late tasks:', error)
  }
}

/**
 * Runs work after the response: `c.var.tasks.add(fn, ...args)` in a handler, and the client
 * does not wait. Mount it first so that it sees the final response.
 * @example
 * const app = new Hono<BackgroundTasksEnv>()
 * app.use(backgroundTasks())
 * app.post('/register', (c) => {
 *   c.var.tasks.add(sendWelcomeEmail, 'ada@example.com')
 *   return c.json({ ok: true }, 201)
 * })
 */
export const backgroundTasks = (options?: BackgroundTasksOptions): MiddlewareHandler<BackgroundTasksEnv> => {
  const resolved = resolveOptions(options)
  return async function backgroundTasks(c, next) {
    const list = new TaskList(c, resolved)
    c.set('tasks', list)
    let thrown: { error: unknown } | undefined
    enter()
    try {
      await next()
    } catch (error) {
      thrown = { error }
    }
    try {
      // Hono's compose turns an Error thrown by the handler into c.error plus app.onError's response.
      list.handlerFailed = thrown !== undefined || c.error !== undefined
      const res = thrown ? undefined : c.res
      if (list.size > 0) {
        const handedOff = handOff(c, list, resolved, res, true)
        const response = handedOff instanceof Promise ? await handedOff : handedOff
        if (response && response !== res) {
          // Clear first: assigning over an existing c.res would copy it into yet another Response.
          c.res = undefined
          c.res = response
        }
      } else {
        list.response = res
        list.onAdd = lateHandOff
      }
    } finally {
      leave()
    }
    if (thrown) throw thrown.error
  }
}
