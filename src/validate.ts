/** `"abc" (string)`, `0 (number)`, `null`: the bad value as an error message should show it. */
export const describeValue = (value: unknown): string => {
  if (value === null) return '`null`'
  if (typeof value === 'function') return `\`${value.name || 'anonymous'}\` (function)`
  if (typeof value === 'string') return `\`${JSON.stringify(value)}\` (string)`
  if (typeof value === 'object') return `\`${Object.prototype.toString.call(value)}\` (object)`
  return `\`${String(value)}\` (${typeof value})`
}

const fail = (api: string, what: string, value: unknown, ErrorType = TypeError): never => {
  throw new ErrorType(`${api}: expected ${what}, got ${describeValue(value)}`)
}

// setTimeout overflows past 2^31 - 1 ms and fires at once.
const MAX_DELAY = 2_147_483_647

/** Asserts a whole number in `[min, max]`; `Infinity` passes when `max` is `Infinity`. */
export const checkCount = (api: string, key: string, value: unknown, min: number, max = Number.POSITIVE_INFINITY): void => {
  if (typeof value !== 'number' || Number.isNaN(value)) fail(api, `\`${key}\` to be a number`, value)
  const n = value as number
  if ((!Number.isInteger(n) && n !== Number.POSITIVE_INFINITY) || n < min || n > max) {
    const range = max === Number.POSITIVE_INFINITY ? `>= ${min}` : `from ${min} to ${max}`
    fail(api, `\`${key}\` to be a whole number ${range}`, value, RangeError)
  }
}

/** Asserts a timeout: a number of milliseconds > 0 that fits a timer, or `false`. */
export const checkTimeout = (api: string, key: string, value: unknown): void => {
  if (value === false) return
  if (typeof value !== 'number' || Number.isNaN(value)) fail(api, `\`${key}\` to be a number of milliseconds or \`false\``, value)
  if ((value as number) <= 0 || (value as number) > MAX_DELAY) {
    fail(api, `\`${key}\` to be more than 0 and at most ${MAX_DELAY} ms, or \`false\``, value, RangeError)
  }
}

/** Asserts a retry delay: milliseconds >= 0 or a function. */
export const checkRetryDelay = (api: string, value: unknown): void => {
  if (typeof value === 'function') return
  if (typeof value !== 'number' || Number.isNaN(value)) fail(api, '`retryDelay` to be a number of milliseconds or a function', value)
  if ((value as number) < 0 || (value as number) > MAX_DELAY) {
    fail(api, `\`retryDelay\` to be from 0 to ${MAX_DELAY} ms`, value, RangeError)
  }
}

/** Asserts an optional function-valued option. */
export const checkFunction = (api: string, key: string, value: unknown): void => {
  if (value !== undefined && typeof value !== 'function') fail(api, `\`${key}\` to be a function`, value)
}

/** Asserts a plain options object (or nothing), and that it has no unknown keys. */
export const checkOptionsObject = (api: string, value: unknown, known: readonly string[]): void => {
  if (value === undefined) return
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(api, 'an options object', value)
  for (const key of Object.keys(value as object)) {
    if (!known.includes(key)) {
      throw new TypeError(`${api}: unknown option \`${key}\`; known options are ${known.map((k) => `\`${k}\``).join(', ')}`)
    }
  }
}

/** Asserts an optional transport: an object with a `send` function. */
export const checkTransport = (api: string, key: string, value: unknown): void => {
  if (value !== undefined && typeof (value as { send?: unknown } | null)?.send !== 'function') {
    fail(api, `\`${key}\` to be a transport: an object with a \`send\` function`, value)
  }
}

/** Asserts an optional instrumentation: an object whose `capture`, `attempt` and `send` are functions when set. */
export const checkInstrumentation = (api: string, key: string, value: unknown): void => {
  if (value === undefined) return
  if (typeof value !== 'object' || value === null) fail(api, `\`${key}\` to be an object like taskTracing() returns`, value)
  for (const hook of ['capture', 'attempt', 'send'] as const) checkFunction(api, `${key}.${hook}`, (value as Record<string, unknown>)[hook])
}

/** Asserts a queue and a different dead-letter queue, both non-empty strings. */
export const checkQueueNames = (api: string, queue: unknown, deadLetterQueue: unknown): void => {
  for (const [key, value] of [
    ['queue', queue],
    ['deadLetterQueue', deadLetterQueue],
  ] as const) {
    if (typeof value !== 'string' || value === '') {
      throw new TypeError(`${api}: expected \`${key}\` to be a queue name, got ${describeValue(value)}`)
    }
  }
  if (deadLetterQueue === queue) {
    throw new TypeError(`${api}: expected \`deadLetterQueue\` to differ from \`queue\`, got "${queue}" for both`)
  }
}

/** Asserts a boolean option. */
export const checkBoolean = (api: string, key: string, value: unknown): void => {
  if (typeof value !== 'boolean') throw new TypeError(`${api}: expected \`${key}\` to be a boolean, got ${describeValue(value)}`)
}
