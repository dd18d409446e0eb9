// Cost of the JavaScript primitives the library uses per task, on the Node running this script.
// Prints one JSON object: { name: nanoseconds per operation } (median of 5 runs).
const N = 200_000

const time = (fn) => {
  for (let i = 0; i < 20_000; i++) fn(i)
  const runs = []
  for (let r = 0; r < 5; r++) {
    const started = process.hrtime.bigint()
    for (let i = 0; i < N; i++) fn(i)
    runs.push(Number(process.hrtime.bigint() - started) / N)
  }
  return runs.sort((a, b) => a - b)[2]
}

const info = { name: 'task', attempt: 1, args: [] }
const map = new Map()
const weak = new WeakMap()
const noop = () => {}
let sink

export const primitives = {
  'object literal, 7 properties': () => {
    sink = { name: info.name, attempt: info.attempt, args: info.args, outcome: 'success', duration: 1, error: undefined, willRetry: false }
  },
  '`{ ...info, outcome, duration, error, willRetry }`': () => {
    sink = { ...info, outcome: 'success', duration: 1, error: undefined, willRetry: false }
  },
  '`new AbortController()` + `.signal`': () => {
    sink = new AbortController().signal
  },
  '`setTimeout` + `clearTimeout`': () => {
    clearTimeout(setTimeout(noop, 25_000))
  },
  '`WeakMap.set` (new key)': () => {
    weak.set({}, 1)
  },
  '`Map.set` + `Map.delete`': (i) => {
    const key = { i }
    map.set(key, 1)
    map.delete(key)
  },
  '`performance.now()`': () => {
    sink = performance.now()
  },
}

/** Like `time()`, for an operation that finishes in a microtask: batches of 50, as requests come. */
const timeAsync = async (fn) => {
  const once = async () => {
    const started = process.hrtime.bigint()
    for (let i = 0; i < N; i += 50) {
      for (let j = 0; j < 50; j++) fn()
      await null
    }
    return Number(process.hrtime.bigint() - started) / N
  }
  await once()
  const runs = []
  for (let r = 0; r < 5; r++) runs.push(await once())
  return runs.sort((a, b) => a - b)[2]
}

/** RequestTasks' context gate (src/request-tasks.ts), once per request with tasks: made at the first add(), opened by start(). */
class Gate {
  #open
  constructor() {
    new Promise((resolve) => {
      this.#open = resolve
    }).then(() => this.pump())
  }
  pump() {
    sink = this
  }
  start() {
    this.#open()
  }
}

export const asyncPrimitives = {
  'context gate per request: `new Promise` + `.then` + resolve, its continuation run': () => new Gate().start(),
  'the same work called directly (what the gate replaces)': () => {
    sink = {}
  },
}

const results = {}
for (const [name, fn] of Object.entries(primitives)) results[name] = time(fn)
for (const [name, fn] of Object.entries(asyncPrimitives)) results[name] = await timeAsync(fn)
void sink
console.log(JSON.stringify(results))
