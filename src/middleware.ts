import type { Context, MiddlewareHandler } from 'hono'
import { createMiddleware } from 'hono/factory'
import { type ResolvedOptions, resolveOptions } from './options.ts'
import { processRegistry } from './registry.ts'
import { RequestTasks } from './request-tasks.ts'
import { recordWork } from './response-tags.ts'
import type { Lifetime, RuntimeAdapter } from './runtime/adapter.ts'
import { detectRuntime, findLifetime } from './runtime/detect.ts'
import type { BackgroundTasksEnv, BackgroundTasksOptions } from './types.ts'

/**
 * Hands the request's work off, once: to whoever keeps it alive, then to "the response is
 * finished", which starts it. Returns the response to send; `canWrap` is true while the response
 * has not left the middleware yet.
 */
const handOff = (
  c: Context,
  list: RequestTasks,
  runtime: RuntimeAdapter,
  lifetime: Lifetime,
  res: Response | undefined,
  canWrap: boolean,
  handlerFailed: boolean,
): Response | undefined | Promise<Response | undefined> => {
  // AWS Lambda freezes once it has replied: the client waits for the tasks rather than lose them.
  if (lifetime.kind === 'before-response') {
    list.start(handlerFailed)
    return list.done().then(() => res)
  }
  list.keepAlive(lifetime)
  // Durable tasks whose transport asks for it are queued before the client gets its response.
  const sending = canWrap ? list.sendBeforeResponse(handlerFailed) : undefined
  if (sending) return sending.then(() => watchResponse(c, list, runtime, res, canWrap, handlerFailed))
  return watchResponse(c, list, runtime, res, canWrap, handlerFailed)
}

/** Starts the list's tasks once the response is finished; returns the response to send. */
const watchResponse = (
  c: Context,
  list: RequestTasks,
  runtime: RuntimeAdapter,
  res: Response | undefined,
  canWrap: boolean,
  handlerFailed: boolean,
): Response | undefined | Promise<Response | undefined> => {
  const start = (): void => list.start(handlerFailed)
  let response: ReturnType<RuntimeAdapter['whenFinished']>
  try {
    response = runtime.whenFinished(c, res, canWrap, start)
  } catch (error) {
    // The work was handed off already: it must still run and settle.
    start()
    throw error
  }
  if (response instanceof Promise) {
    return response.then(
      (watched) => recordWork(watched, list),
      (error: unknown) => {
        start()
        throw error
      },
    )
  }
  if (response) recordWork(response, list)
  return response
}

/** Tasks added once the handler has returned (inside a stream callback) are handed off at the first add. */
const handOffLate = (
  c: Context,
  list: RequestTasks,
  runtime: RuntimeAdapter,
  options: ResolvedOptions,
  res: Response | undefined,
  handlerFailed: boolean,
): void => {
  const lifetime = findLifetime(c, options.waitUntil, runtime)
  if (lifetime.kind === 'before-response') {
    // Nothing would hold the process for it: refuse it where it is added rather than lose it.
    const name = list.tasks.at(-1)?.name
    throw new Error(
      `tasks.add: on AWS Lambda the tasks of ${options.describeRequest(c)} run before the reply, which has already started, so task "${name}" would be lost; add tasks before the handler returns`,
    )
  }
  try {
    handOff(c, list, runtime, lifetime, res, false, handlerFailed)
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
    // 1. Collect: the handler adds tasks to the request's list; a drain waits for requests in here.
    const runtime = detectRuntime(c.env)
    const list = new RequestTasks(c, resolved, runtime.onFirstTask)
    c.set('tasks', list)
    let thrown: { error: unknown } | undefined
    processRegistry.enter()
    try {
      await next()
    } catch (error) {
      thrown = { error }
    }
    try {
      // Hono's compose turns an Error thrown by the handler into c.error plus app.onError's response.
      const handlerFailed = thrown !== undefined || c.error !== undefined
      const res = thrown ? undefined : c.res
      if (list.size === 0) {
        list.handOffLate(() => handOffLate(c, list, runtime, resolved, res, handlerFailed))
      } else {
        // 2. Hand off to the lifetime; 3. "finished" starts the tasks (4. run, 5. settle: RequestTasks).
        const handedOff = handOff(c, list, runtime, findLifetime(c, resolved.waitUntil, runtime), res, true, handlerFailed)
        const response = handedOff instanceof Promise ? await handedOff : handedOff
        if (response && response !== res) {
          // Clear first: assigning over an existing c.res would copy it into yet another Response.
          c.res = undefined
          c.res = response
        }
      }
    } finally {
      processRegistry.leave()
    }
    if (thrown) throw thrown.error
  })
}
