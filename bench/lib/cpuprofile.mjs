// Reads a V8 .cpuprofile and charges every sample to the code responsible for it: the nearest library,
// Hono, adapter or benchmark-app frame on its stack, so that Node internals called by the library
// (timers, AbortController, events) count as library time.
import { readFileSync } from 'node:fs'

const SPECIAL = new Set(['(garbage collector)', '(program)', '(idle)', '(root)'])

const classify = (frame) => {
  const { url, functionName } = frame
  if (!url) return SPECIAL.has(functionName) ? functionName : 'native'
  if (url.endsWith('/.cache/lib.mjs')) return 'library'
  if (url.includes('/node_modules/hono/')) return 'hono'
  if (url.includes('/node_modules/@hono/node-server/')) return '@hono/node-server'
  if (url.endsWith('/.cache/node-server.mjs') || url.endsWith('/.cache/micro.mjs')) return 'benchmark app'
  if (url.startsWith('node:')) return 'node'
  return 'other'
}

/** Line ranges of lib.mjs per source file, from esbuild's `// src/x.ts` comments. */
export const sourceMapOfBundle = (bundlePath) => {
  const ranges = []
  readFileSync(bundlePath, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      const m = /^\/\/ (src\/\S+\.ts)$/.exec(line)
      if (m) ranges.push({ line: i, file: m[1] })
    })
  return (line) => {
    let file = '?'
    for (const r of ranges) if (r.line <= line) file = r.file
    return file
  }
}

const label = (frame) => `${frame.functionName || '(anonymous)'} ${frame.url.split('/').pop()}:${frame.lineNumber + 1}`

/**
 * Summarises `path` between `from` and `to` (µs of the monotonic clock, as `process.hrtime`): milliseconds
 * per category, and for library time the library function and the leaf (the function on the CPU).
 */
export const analyseProfile = (path, { fileOfLine = () => '', from = 0, to = Number.POSITIVE_INFINITY } = {}) => {
  const profile = JSON.parse(readFileSync(path, 'utf8'))
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)

  const owner = new Map() // node id -> { category, frame }
  const ownerOf = (id) => {
    if (owner.has(id)) return owner.get(id)
    const node = byId.get(id)
    const category = classify(node.callFrame)
    let result
    if (category === 'node' || category === 'native' || category === 'other') {
      const up = parent.get(id)
      const above = up === undefined ? undefined : ownerOf(up)
      result = above && above.category !== '(root)' ? above : { category: 'node internals', frame: node.callFrame }
    } else result = { category, frame: node.callFrame }
    owner.set(id, result)
    return result
  }

  const categories = new Map()
  const libraryFunctions = new Map()
  const libraryLeaves = new Map()
  let total = 0
  let time = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i]
    if (time < from || time > to) continue
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000
    const id = profile.samples[i]
    const { category, frame } = ownerOf(id)
    categories.set(category, (categories.get(category) ?? 0) + ms)
    if (category !== '(idle)') total += ms
    if (category === 'library') {
      const fn = `${frame.functionName || '(anonymous)'} (${fileOfLine(frame.lineNumber)})`
      libraryFunctions.set(fn, (libraryFunctions.get(fn) ?? 0) + ms)
      const leaf = byId.get(id).callFrame
      const leafLabel = classify(leaf) === 'library' ? `${fn} itself` : `${label(leaf)} called from ${fn}`
      libraryLeaves.set(leafLabel, (libraryLeaves.get(leafLabel) ?? 0) + ms)
    }
  }
  const sorted = (map) => [...map.entries()].sort((a, b) => b[1] - a[1])
  return { total, categories: sorted(categories), libraryFunctions: sorted(libraryFunctions), libraryLeaves: sorted(libraryLeaves) }
}

/**
 * Bytes allocated per request by the function that allocated them (self size), from a sampling heap
 * profile (bench/lib/alloc-sampler.mjs) taken over `requests` requests. Library functions are named with
 * their source file, others with their file and line.
 */
export const allocationsByFunction = (path, requests, { fileOfLine = () => '' } = {}) => {
  const profile = JSON.parse(readFileSync(path, 'utf8'))
  const bytes = new Map()
  const visit = (node) => {
    const frame = node.callFrame
    const name = frame.url.endsWith('/lib.mjs')
      ? `${frame.functionName || '(anonymous)'} (${fileOfLine(frame.lineNumber)})`
      : frame.url
        ? label(frame)
        : frame.functionName || '(V8)'
    if (node.selfSize) bytes.set(name, (bytes.get(name) ?? 0) + node.selfSize / requests)
    for (const child of node.children ?? []) visit(child)
  }
  visit(profile.head)
  return bytes
}
