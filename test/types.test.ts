import { Hono } from 'hono'
import { describe, expectTypeOf, it } from 'vitest'
import { type BackgroundTasks, type BackgroundTasksEnv, backgroundTasks, type TaskContext, task } from '../src/index.ts'

async function sendEmail(to: string, subject: string, attempts?: number) {
  void [to, subject, attempts]
}
async function withSignal(this: TaskContext, url: string) {
  await fetch(url, { signal: this.signal })
}

// These run through `tsc --noEmit` (npm run typecheck); every @ts-expect-error must be an error.
describe('types', () => {
  it('types c.var.tasks and checks add() arguments against the function', () => {
    const app = new Hono<BackgroundTasksEnv>()
    app.use(backgroundTasks())
    app.get('/', (c) => {
      expectTypeOf(c.var.tasks).toEqualTypeOf<BackgroundTasks>()
      c.var.tasks.add(sendEmail, 'a@b.c', 'hi')
      c.var.tasks.add(sendEmail, 'a@b.c', 'hi', 3)
      c.var.tasks.add(() => 1)
      c.var.tasks.add((n: number) => n * 2, 21)
      c.var.tasks.add(withSignal, 'https://example.com')
      // @ts-expect-error wrong argument type
      c.var.tasks.add(sendEmail, 'a@b.c', 42)
      // @ts-expect-error missing argument
      c.var.tasks.add(sendEmail, 'a@b.c')
      // @ts-expect-error one argument too many
      c.var.tasks.add((n: number) => n, 1, 2)
      // @ts-expect-error not a function
      c.var.tasks.add('sendEmail')
      return c.text('ok')
    })
  })

  it('keeps the inference through task()', () => {
    const welcome = task(sendEmail, { retries: 2, always: true })
    const tasks = {} as BackgroundTasks
    expectTypeOf(tasks.add<[string, string, number?]>).toBeFunction()
    const typed = () => {
      tasks.add(welcome, 'a@b.c', 'hi')
      // @ts-expect-error wrong argument type through task()
      tasks.add(welcome, 1, 'hi')
    }
    void typed
  })

  it('leaves c.var.tasks untyped on an app that does not declare the Env', () => {
    const app = new Hono()
    app.get('/', (c) => {
      // @ts-expect-error `tasks` is not a known variable without BackgroundTasksEnv
      c.var.tasks.add(sendEmail)
      return c.text('ok')
    })
  })
})
