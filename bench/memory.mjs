// 5. Memory: resident memory (and V8 heap) of the Node server before and after 100,000 requests that each
// add a task, once the work has settled and after a full GC; a bare Hono server takes the same load in
// alternating chunks as the control for what the runtime itself does.
import { generator, getJson, loadRequests, waitForTasks } from './lib/load.mjs'
import { envNumber, isMain } from './lib/main.mjs'
import { killAll } from './lib/proc.mjs'
import { environment, runAlone } from './lib/report.mjs'
import { startNode } from './lib/servers.mjs'
import { fmt } from './lib/stats.mjs'

const MiB = 1024 * 1024
// Growth of the heap after GC beyond the control's, per the whole 100,000 requests, that counts as a leak:
// 1 MiB is about 10 bytes per request; one leaked task list per request would be well over 100.
const HEAP_NOISE = 1 * MiB
// RSS moves with the allocator and the GC's heap sizing; beyond the control's growth plus this, it counts.
const RSS_NOISE = 8 * MiB

const settle = async (server) => {
  await waitForTasks(server, 30_000)
  return getJson(`${server.url}/__gc`, 'POST')
}

export const memory = async ({
  total = envNumber('BENCH_MEMORY_REQUESTS', 100_000),
  chunks = 4,
  connections = envNumber('BENCH_CONNECTIONS', 50),
} = {}) => {
  const env = environment()
  const started = performance.now()
  const servers = {
    library: await startNode('work', { nodeArgs: ['--expose-gc'], name: 'node:work (memory)' }),
    control: await startNode('bare', { nodeArgs: ['--expose-gc'], name: 'node:bare (memory)' }),
  }
  const names = Object.keys(servers)
  try {
    const before = {}
    for (const name of names) {
      await loadRequests({ url: `${servers[name].url}/`, connections, requests: 10_000 }) // warm-up: JIT, pools, caches
      before[name] = await settle(servers[name])
    }
    const trail = Object.fromEntries(names.map((n) => [n, [before[n]]]))
    const perChunk = Math.ceil(total / chunks)
    // Requests answered after the warm-up: wrk stops at the count, give or take a response per connection.
    const answered = Object.fromEntries(names.map((n) => [n, 0]))
    for (let chunk = 0; chunk < chunks; chunk++) {
      for (const name of chunk % 2 ? [...names].reverse() : names) {
        const load = await loadRequests({ url: `${servers[name].url}/`, connections, requests: perChunk })
        if (load.errors) throw new Error(`${name}: ${load.errors} errors under load`)
        answered[name] += load.requests
        trail[name].push(await settle(servers[name]))
      }
      console.error(
        `[memory] chunk ${chunk + 1}/${chunks}: ${names.map((n) => `${n} heap ${fmt.mib(trail[n].at(-1).heapUsed)}`).join(', ')}`,
      )
    }
    const after = Object.fromEntries(names.map((n) => [n, trail[n].at(-1)]))
    const growth = (name, key) => after[name][key] - before[name][key]
    const heapExcess = growth('library', 'heapUsed') - growth('control', 'heapUsed')
    const rssExcess = growth('library', 'rss') - growth('control', 'rss')
    const tasksOk = after.library.completed === after.library.added
    return {
      id: 'memory',
      title: '5. Memory after 100,000 requests with tasks',
      env,
      seconds: (performance.now() - started) / 1000,
      intro: [
        `Node, @hono/node-server, \`--expose-gc\`. The library server adds one 5 ms task per request; the control is bare Hono.`,
        `After a 10,000-request warm-up each, at least ${fmt.int(total)} requests per server in ${chunks} chunks, the two servers taking turns`,
        `(${generator}, ${connections} connections${generator === 'wrk' ? '; wrk stops itself once a chunk is answered, give or take a response per connection' : ''}). Each measurement waits until every task has completed, then runs \`gc()\` twice.`,
      ].join('\n'),
      tables: [
        {
          headers: [
            'Server',
            'RSS before',
            'RSS after',
            'RSS growth',
            'heap before',
            'heap after',
            'heap growth',
            'tasks completed / added',
          ],
          rows: names.map((n) => [
            n === 'library' ? 'with tasks' : 'bare Hono (control)',
            fmt.mib(before[n].rss),
            fmt.mib(after[n].rss),
            fmt.signedMib(growth(n, 'rss')),
            fmt.mib(before[n].heapUsed),
            fmt.mib(after[n].heapUsed),
            fmt.signedMib(growth(n, 'heapUsed')),
            n === 'library' ? `${fmt.int(after[n].completed)} / ${fmt.int(after[n].added)}` : 'none',
          ]),
        },
        {
          caption: 'Heap and RSS after GC at each step (warm-up, then each chunk of at least the requests shown):',
          headers: ['Server', ...trail.library.map((_, i) => (i === 0 ? 'warm-up' : `+${fmt.int(i * perChunk)}`))],
          rows: names.flatMap((n) => [
            [`${n === 'library' ? 'with tasks' : 'control'}, heap`, ...trail[n].map((s) => fmt.mib(s.heapUsed))],
            [`${n === 'library' ? 'with tasks' : 'control'}, RSS`, ...trail[n].map((s) => fmt.mib(s.rss))],
          ]),
        },
      ],
      targets: [
        {
          what: `memory: heap growth beyond the control after ${fmt.int(total)} requests`,
          wanted: `<= ${fmt.mib(HEAP_NOISE)}`,
          measured: fmt.signedMib(heapExcess),
          pass: heapExcess <= HEAP_NOISE,
        },
        {
          what: `memory: RSS growth beyond the control after ${fmt.int(total)} requests`,
          wanted: `<= ${fmt.mib(RSS_NOISE)}`,
          measured: fmt.signedMib(rssExcess),
          pass: rssExcess <= RSS_NOISE,
        },
        {
          what: 'memory: every task ran',
          wanted: 'completed = added',
          measured: `${after.library.completed}/${after.library.added}`,
          pass: tasksOk,
        },
      ],
      notes: [
        `Requests answered after the warm-up (${generator}): with tasks ${fmt.int(answered.library)}, control ${fmt.int(answered.control)}.`,
      ],
    }
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()))
  }
}

if (isMain(import.meta.url)) runAlone(memory).finally(killAll)
