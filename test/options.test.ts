import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { addTask, backgroundTasks, drainTasks, task } from '../src/index.ts'

describe('bad options fail when the factory is called, naming the option and the value [design: Bad input]', () => {
  it.each([
    [{ concurrency: 0 }, RangeError, 'backgroundTasks: expected `concurrency` to be a whole number >= 1, got `0` (number)'],
    [{ concurrency: 1.5 }, RangeError, 'backgroundTasks: expected `concurrency` to be a whole number >= 1, got `1.5` (number)'],
    [{ concurrency: '2' }, TypeError, 'backgroundTasks: expected `concurrency` to be a number, got `"2"` (string)'],
    [
      { timeout: -1 },
      RangeError,
      'backgroundTasks: expected `timeout` to be more than 0 and at most 2147483647 ms, or `false`, got `-1` (number)',
    ],
    [{ timeout: true }, TypeError, 'backgroundTasks: expected `timeout` to be a number of milliseconds or `false`, got `true` (boolean)'],
    [{ retries: -1 }, RangeError, 'backgroundTasks: expected `retries` to be a whole number from 0 to 100, got `-1` (number)'],
    [
      { retryDelay: 'soon' },
      TypeError,
      'backgroundTasks: expected `retryDelay` to be a number of milliseconds or a function, got `"soon"` (string)',
    ],
    [{ maxTasks: 0 }, RangeError, 'backgroundTasks: expected `maxTasks` to be a whole number >= 1, got `0` (number)'],
    [{ onError: 'log' }, TypeError, 'backgroundTasks: expected `onError` to be a function, got `"log"` (string)'],
    [{ waitUntil: {} }, TypeError, 'backgroundTasks: expected `waitUntil` to be a function, got `[object Object]` (object)'],
    [{ log: 'yes' }, TypeError, 'backgroundTasks: expected `log` to be a boolean or a function, got `"yes"` (string)'],
    [{ concurency: 2 }, TypeError, 'backgroundTasks: unknown option `concurency`; known options are `concurrency`, `timeout`'],
    [null, TypeError, 'backgroundTasks: expected an options object, got `null`'],
  ])('%j', (options, type, message) => {
    const call = () => backgroundTasks(options as never)
    expect(call).toThrow(type)
    expect(call).toThrow(message)
  })

  it('accepts Infinity concurrency and timeout: false, and leaves the caller object untouched', () => {
    const options = Object.freeze({ concurrency: Number.POSITIVE_INFINITY, timeout: false as const })
    expect(() => backgroundTasks(options)).not.toThrow()
    expect(options).toEqual({ concurrency: Number.POSITIVE_INFINITY, timeout: false })
  })
})

describe('task() options [design: Bad input]', () => {
  it.each([
    [42, {}, TypeError, 'task: expected a function, got `42` (number)'],
    [() => {}, { name: '' }, TypeError, 'task: expected `name` to be a non-empty string, got `""` (string)'],
    [() => {}, { retries: 1.5 }, RangeError, 'task: expected `retries` to be a whole number from 0 to 100, got `1.5` (number)'],
    [() => {}, { timeout: 0 }, RangeError, 'task: expected `timeout` to be more than 0'],
    [() => {}, { always: 'yes' }, TypeError, 'task: expected `always` to be a boolean, got `"yes"` (string)'],
    [() => {}, { retry: 2 }, TypeError, 'task: unknown option `retry`'],
  ])('task(%s, %j)', (fn, options, type, message) => {
    const call = () => task(fn as never, options as never)
    expect(call).toThrow(type)
    expect(call).toThrow(message)
  })

  it("names a task after its function, and task() after the option or the function's name", () => {
    async function sendWelcomeEmail() {}
    expect(task(sendWelcomeEmail).options.name).toBe('sendWelcomeEmail')
    expect(task(sendWelcomeEmail, { name: 'welcome' }).options.name).toBe('welcome')
    expect(task(() => {}).options.name).toBe('anonymous')
  })
})

describe('drainTasks() options', () => {
  it('rejects a bad timeout', async () => {
    await expect(drainTasks({ timeout: -5 })).rejects.toThrow('drainTasks: expected `timeout` to be more than 0')
  })
})

describe('addTask()', () => {
  it('throws and says what to add when the middleware is not mounted', async () => {
    const app = new Hono()
    app.get('/x', (c) => {
      addTask(c, () => {})
      return c.text('unreachable')
    })
    app.onError((error, c) => c.text(error.message, 500))
    const res = await app.request('/x')
    expect(await res.text()).toBe(
      'addTask: backgroundTasks() is not mounted for GET /x; add `app.use(backgroundTasks())` before this route',
    )
  })
})
