import type { Context, MiddlewareHandler } from 'hono'
import { createMiddleware } from 'hono/factory'
import { whenFinished } from './finished.ts'
import { findLifetime, type Lifetime } from './lifetime.ts'
import { describeRequest, resolveOptions } from './options.ts'
import { enter, leave, track } from './registry.ts'
import { runTasks, sendBeforeResponse, startTasks } from './run.ts'
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
  lifetime: Lifetime,
  res: Response | undefined,
  canWrap: boolean,
): Response | undefined | Promise<Response | undefined> => {
  list.onAdd = undefined
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
  // Durable tasks whose transport asks for it are queued before the client gets its response.
  const sending = canWrap ? sendBeforeResponse(list) : undefined
  if (sending) return sending.then(() => watchResponse(c, list, work, res, canWrap))
  return watchResponse(c, list, work, res, canWrap)
}

/** Starts the list's tasks once the response is finished; returns the response to send. */
const watchResponse = (
  c: Context,
  list: TaskList,
  work: Promise<void>,
  res: Response | undefined,
  canWrap: boolean,
): Response | undefined | Promise<Response | undefined> => {
  const start = (): void => startTasks(list)
  let response: ReturnType<typeof whenFinished>
  try {
    response = whenFinished(c, res, canWrap, start)
  } catch (error) {
    // The work was handed off already: it must still run and settle.
    start()
    throw error
  }
  if (response instanceof Promise) {
    return response.then(
      (watched) => recordWork(watched, work),
      (error: unknown) => {
        start()
        throw error
      },
    )
  }
  if (response) recordWork(response, work)
  return response
}

/** Tasks added after the handler returned (inside a stream callback) are handed off when added. */
function lateHandOff(this: TaskList): void {
  const lifetime = findLifetime(this.c, this.options.waitUntil)
  if (lifetime.kind === 'before-response') {
    // Nothing would hold the process for it: refuse it where it is added rather than lose it.
    const entry = this.entries.pop()
    throw new Error(
      `tasks.add: on AWS Lambda the tasks of ${describeRequest(this.c)} run before the reply, which has already started, so task "${entry?.name}" would be lost; add tasks before the handler returns`,
    )
  }
  try {
    handOff(this.c, this, lifetime, this.response, false)
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
  return createMiddleware<BackgroundTasksEnv>(async function backgroundTasks(c, next) {
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
        const handedOff = handOff(c, list, findLifetime(c, resolved.waitUntil), res, true)
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
  })
}
