import type { Context } from 'hono'
import { describeRequest } from './options.ts'
import type { BackgroundTasks, Task, TaskFunction } from './types.ts'

/**
 * `c.var.tasks.add(fn, ...args)` for code that gets `c` without the middleware's Env type.
 * Throws, rather than dropping the task, when `backgroundTasks()` is not mounted on this route.
 * @example
 * addTask(c, sendWelcomeEmail, user.email)
 */
// biome-ignore lint/suspicious/noExplicitAny: see TaskFunction.
export const addTask = <Args extends any[]>(c: Context, fn: TaskFunction<Args> | Task<Args>, ...args: Args): void => {
  const tasks = c.get('tasks') as BackgroundTasks | undefined
  if (typeof tasks?.add !== 'function') {
    throw new Error(
      `addTask: backgroundTasks() is not mounted for ${describeRequest(c)}; add \`app.use(backgroundTasks())\` before this route`,
    )
  }
  tasks.add(fn, ...args)
}
