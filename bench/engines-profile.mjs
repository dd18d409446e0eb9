// Where a durable engine's web process spends its time under load: `node bench/engines-profile.mjs
// <engine> [variant...]` (engines and variants of bench/engines.mjs; default variants `hand ours`)
// starts the engine's store and one web process per variant with the V8 CPU profiler (`--cpu-prof`,
// Node and Deno alike), loads it as bench/engines.mjs does for BENCH_PROFILE_DURATION seconds (5) after
// a 1 s warm-up, stops it and reads the profile over the loaded span only. Prints req/s, the web
// process's share of that span idle (waiting on the event loop: the store or the client), in GC and
// running code, the running time by owner (the library by source file, the engine's client, hono,
// the adapter, runtime internals), and the functions with the most self time. Writes nothing to
// RESULTS.md; the profiles stay in bench/.cache/engines-profile/.
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { ENGINES } from './engines.mjs'
import { closeAgents, getJson, loadGenerator, sleep } from './lib/load.mjs'
import { envNumber } from './lib/main.mjs'
import { cacheDir } from './lib/paths.mjs'
import { killAll } from './lib/proc.mjs'
import { fmt } from './lib/stats.mjs'

const SPECIAL = new Set(['(garbage collector)', '(program)', '(idle)', '(root)'])

/** Source file of each line of a bundle, from esbuild's `// src/x.ts` and `// node_modules/x/...` comments. */
const linesOf = (bundle) => {
  const ranges = []
  readFileSync(bundle, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      const m = /^\/\/ ((?:src|bench|node_modules)\/\S+)$/.exec(line)
      if (m) ranges.push({ line: i, file: m[1] })
    })
  return (line) => {
    let file = 'bundle'
    for (const r of ranges) if (r.line <= line) file = r.file
    return file
  }
}

/** Who owns a frame: the library's source file, a package, the benchmark server, or the runtime. */
const ownerOf = (frame, fileOfLine) => {
  const { url, functionName, lineNumber } = frame
  if (!url) return SPECIAL.has(functionName) ? functionName : 'runtime (native)'
  if (url.includes('/.cache/engines-')) {
    const file = fileOfLine(lineNumber)
    if (file.startsWith('src/')) return `library ${file}`
    if (file.startsWith('node_modules/'))
      return file
        .split('/')
        .slice(1, file.startsWith('node_modules/@') ? 3 : 2)
        .join('/')
    return 'benchmark server'
  }
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (pkg) return pkg[1]
  if (url.startsWith('node:') || url.startsWith('ext:')) return 'runtime internals'
  return 'other'
}

/**
 * Self time by owner and by function between `from` and `to` (µs, the monotonic clock), in ms. Runtime
 * internals and native frames are charged to the nearest frame above them that has an owner of its own
 * (a library, a package), as bench/lib/cpuprofile.mjs does.
 */
const analyse = (file, bundle, from, to) => {
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  const fileOfLine = linesOf(bundle)
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const charged = new Map()
  const chargedTo = (id) => {
    if (charged.has(id)) return charged.get(id)
    const owner = ownerOf(byId.get(id).callFrame, fileOfLine)
    let result = owner
    if (owner === 'runtime internals' || owner === 'runtime (native)' || owner === 'other') {
      const up = parent.get(id)
      const above = up === undefined ? undefined : chargedTo(up)
      if (above && !SPECIAL.has(above)) result = above
    }
    charged.set(id, result)
    return result
  }
  const owners = new Map()
  const functions = new Map()
  let time = profile.startTime
  let span = 0
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i]
    if (time < from || time > to) continue
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000
    span += ms
    const id = profile.samples[i]
    const owner = chargedTo(id)
    owners.set(owner, (owners.get(owner) ?? 0) + ms)
    const frame = byId.get(id).callFrame
    const where = frame.url.includes('/.cache/engines-') ? fileOfLine(frame.lineNumber) : frame.url.split('/').slice(-2).join('/')
    const fn = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1} [${owner}]`
    functions.set(fn, (functions.get(fn) ?? 0) + ms)
  }
  const sorted = (map) => [...map.entries()].sort((a, b) => b[1] - a[1])
  return { span, owners: sorted(owners), functions: sorted(functions) }
}

const main = async () => {
  const [engineId, ...wanted] = process.argv.slice(2)
  const engine = ENGINES[engineId]
  if (!engine) throw new Error(`usage: node bench/engines-profile.mjs <${Object.keys(ENGINES).join('|')}> [variant...]`)
  const variants = wanted.length ? wanted : ['hand', 'ours']
  const duration = envNumber('BENCH_PROFILE_DURATION', 5)
  const connections = envNumber('BENCH_CONNECTIONS', 50)
  const generator = loadGenerator()
  const dir = path.join(cacheDir, 'engines-profile')
  mkdirSync(dir, { recursive: true })
  const store = await engine.start()
  try {
    for (const variant of variants) {
      const serverVariant = engine.variants.find(([id]) => id === variant)?.[2] ?? variant
      const profileDir = path.join(dir, `${engineId}-${variant}`)
      rmSync(profileDir, { recursive: true, force: true })
      mkdirSync(profileDir, { recursive: true })
      const server = await store.serve(serverVariant, { runtimeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] })
      await generator.run({ url: `${server.url}/`, connections, duration: 1 })
      await store.clear(server)
      const before = await getJson(`${server.url}/__stats`)
      const from = Number(process.hrtime.bigint() / 1000n)
      const load = await generator.run({ url: `${server.url}/`, connections, duration })
      const to = Number(process.hrtime.bigint() / 1000n)
      const after = await getJson(`${server.url}/__stats`)
      await store.clear(server)
      await server.stop('SIGTERM')
      await sleep(500)
      const [profile] = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'))
      if (!profile) throw new Error(`${variant}: no .cpuprofile in ${profileDir} (did the process exit cleanly on SIGTERM?)`)
      const bundle = path.join(cacheDir, `engines-${engineId}-web.mjs`)
      const { span, owners, functions } = analyse(path.join(profileDir, profile), bundle, from, to)
      const share = (ms) => `${((ms / span) * 100).toFixed(1)}%`
      const ms = (name) => owners.find(([owner]) => owner === name)?.[1] ?? 0
      const trips = after.trips - before.trips
      console.log(
        `\n## ${engineId} ${variant}: ${fmt.int(load.rps)} req/s, ${fmt.int(load.requests)} requests, ${((after.cpu - before.cpu) / load.requests).toFixed(0)} µs CPU/request, ${trips ? ((after.jobs - before.jobs) / trips).toFixed(2) : '-'} jobs per round trip (${fmt.int(trips)} trips)`,
      )
      console.log(
        `profiled span ${(span / 1000).toFixed(2)} s: idle ${share(ms('(idle)'))}, GC ${share(ms('(garbage collector)'))}, (program) ${share(ms('(program)'))}, running JS ${share(span - ms('(idle)') - ms('(garbage collector)') - ms('(program)'))}`,
      )
      console.log('by owner (ms, share of the span, µs per request):')
      for (const [owner, t] of owners) {
        console.log(
          `  ${t.toFixed(0).padStart(6)} ms ${share(t).padStart(6)} ${((t * 1000) / load.requests).toFixed(1).padStart(7)} µs/req  ${owner}`,
        )
      }
      console.log('top self time:')
      for (const [fn, t] of functions.filter(([fn]) => !SPECIAL.has(fn.split(' ')[0])).slice(0, 20)) {
        console.log(`  ${t.toFixed(0).padStart(6)} ms ${share(t).padStart(6)}  ${fn}`)
      }
    }
  } finally {
    closeAgents()
    await store.stop()
  }
}

main()
  .then(() => process.exit(0))
  .catch((error) => {
    console.error(error)
    process.exit(1)
  })
  .finally(killAll)
