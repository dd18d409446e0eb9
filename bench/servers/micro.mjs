// In-process micro-benchmark: app.fetch() with the env @hono/node-server passes (an `outgoing` that
// emits 'finish'), no sockets, so the library's own CPU cost per request shows without HTTP noise.
// Prints one JSON line per round: { variant: nanoseconds per request, tasks included }. The clock is the
// wall clock, or with `cpu` as the fourth argument this process's CPU time, which the neighbours of a
// shared machine disturb less.
import { EventEmitter } from 'node:events'
import { getRequestListener } from '@hono/node-server'
import { counters, createApp } from './app.mjs'
import { activate, createTracingApp, tracingVariants } from './tracing.mjs'

// Installs the adapter's lightweight Request/Response globals, as serve() does.
getRequestListener(() => new Response(null))

const [variantList = 'bare,mounted,one,three', roundsArg = '5', perRoundArg = '20000', clock = 'wall'] = process.argv.slice(2)
const variants = variantList.split(',')
const rounds = Number(roundsArg)
const perRound = Number(perRoundArg)
const BATCH = 50
const apps = Object.fromEntries(variants.map((v) => [v, v in tracingVariants ? createTracingApp(v) : createApp(v)]))
const request = new Request('http://127.0.0.1/')

class Outgoing extends EventEmitter {
  writableFinished = false
  destroyed = false
  finish() {
    this.writableFinished = true
    this.emit('finish')
    this.emit('close')
  }
}

const settled = () =>
  new Promise((resolve) => {
    const check = () => (counters.completed >= counters.added ? resolve() : setImmediate(check))
    check()
  })

const runBatch = async (app) => {
  const outgoings = []
  const pending = []
  for (let i = 0; i < BATCH; i++) {
    const outgoing = new Outgoing()
    outgoings.push(outgoing)
    pending.push(app.fetch(request, { incoming: undefined, outgoing }))
  }
  await Promise.all(pending)
  for (const outgoing of outgoings) outgoing.finish()
  await settled()
}

const measure = async (variant, n) => {
  const app = apps[variant]
  const deactivate = activate(variant)
  try {
    if (clock === 'cpu') {
      const started = process.cpuUsage()
      for (let done = 0; done < n; done += BATCH) await runBatch(app)
      const used = process.cpuUsage(started)
      return ((used.user + used.system) * 1000) / n
    }
    const started = process.hrtime.bigint()
    for (let done = 0; done < n; done += BATCH) await runBatch(app)
    return Number(process.hrtime.bigint() - started) / n
  } finally {
    deactivate()
  }
}

for (const v of variants) await measure(v, perRound / 2) // warm-up
for (let round = 0; round < rounds; round++) {
  const line = {}
  for (let i = 0; i < variants.length; i++) {
    const v = variants[(i + round) % variants.length]
    line[v] = await measure(v, perRound)
  }
  console.log(JSON.stringify(line))
}
console.log(JSON.stringify({ added: counters.added, completed: counters.completed }))
