// 3. Task throughput: every request adds one task that waits 5 ms (like a call to another service);
// background tasks completed per second under sustained load (wrk, or autocannon), and completed = added.
import { generator, getJson, load, sleep, waitForTasks } from './lib/load.mjs'
import { envNumber, isMain } from './lib/main.mjs'
import { killAll } from './lib/proc.mjs'
import { environment, runAlone } from './lib/report.mjs'
import { startBun, startDeno, startNode } from './lib/servers.mjs'
import { fmt, median, rotate } from './lib/stats.mjs'

const RUNTIMES = { node: startNode, bun: startBun, deno: startDeno }

export const throughput = async ({
  rounds = envNumber('BENCH_THROUGHPUT_ROUNDS', 3),
  duration = envNumber('BENCH_THROUGHPUT_DURATION', 3),
  connections = envNumber('BENCH_CONNECTIONS', 50),
} = {}) => {
  const env = environment()
  const started = performance.now()
  const servers = {}
  const failed = {}
  for (const [name, start] of Object.entries(RUNTIMES)) {
    try {
      servers[name] = await start('work')
    } catch (error) {
      failed[name] = error.message.split('\n')[0]
      console.error(`[throughput] ${name} did not start:`, error.message)
    }
  }
  const names = Object.keys(servers)
  try {
    for (const name of names) {
      await load({ url: `${servers[name].url}/`, connections, duration: 1 })
      await waitForTasks(servers[name])
    }
    const results = Object.fromEntries(names.map((n) => [n, []]))
    for (let round = 0; round < rounds; round++) {
      for (const name of rotate(names, round)) {
        const server = servers[name]
        const before = await waitForTasks(server)
        const run = await load({ url: `${server.url}/`, connections, duration })
        const atEnd = await getJson(`${server.url}/__stats`)
        const drainStarted = performance.now()
        const after = await waitForTasks(server, 30_000)
        results[name].push({
          rps: run.rps,
          p99: run.p99,
          requests: run.requests,
          added: atEnd.added - before.added,
          completedDuringLoad: atEnd.completed - before.completed,
          tasksPerSecond: (atEnd.completed - before.completed) / run.seconds,
          backlog: atEnd.added - atEnd.completed,
          drainMs: performance.now() - drainStarted,
          completed: after.completed - before.completed,
          errors: run.errors,
        })
        await sleep(200)
      }
      console.error(
        `[throughput] round ${round + 1}/${rounds}: ${names.map((n) => `${n} ${fmt.int(results[n].at(-1).tasksPerSecond)} tasks/s`).join(', ')}`,
      )
    }
    const final = {}
    for (const name of names) final[name] = await waitForTasks(servers[name], 30_000)
    const med = (name, key) => median(results[name].map((r) => r[key]))
    const sum = (name, key) => results[name].reduce((total, r) => total + r[key], 0)
    return {
      id: 'throughput',
      title: '3. Task throughput under sustained load',
      env,
      seconds: (performance.now() - started) / 1000,
      intro: [
        `Every \`GET /\` adds one task that waits 5 ms and counts itself. ${generator}, ${connections} connections, ${duration} s per runtime per`,
        `round, ${rounds} rounds in rotating order after a 1 s warm-up. Tasks/s counts the tasks that completed during the load;`,
        'the backlog is what was still running when the load stopped, and "drain" is how long it took to finish.',
      ].join('\n'),
      tables: [
        {
          caption: 'Medians of the rounds:',
          headers: ['Runtime', 'req/s', 'p99', 'tasks completed/s', 'completed/s ÷ req/s', 'backlog at end', 'drain'],
          rows: names.map((n) => [
            n,
            fmt.int(med(n, 'rps')),
            fmt.ms(med(n, 'p99')),
            fmt.int(med(n, 'tasksPerSecond')),
            fmt.ratio(median(results[n].map((r) => r.tasksPerSecond / r.rps))),
            fmt.int(med(n, 'backlog')),
            fmt.ms(med(n, 'drainMs'), 0),
          ]),
        },
        {
          caption: 'Totals over the measured rounds, and for the whole run (warm-up included):',
          headers: ['Runtime', 'requests answered', 'tasks added', 'tasks completed', 'whole run: completed / added'],
          rows: names.map((n) => [
            n,
            fmt.int(sum(n, 'requests')),
            fmt.int(sum(n, 'added')),
            fmt.int(sum(n, 'completed')),
            `${fmt.int(final[n].completed)} / ${fmt.int(final[n].added)}`,
          ]),
        },
      ],
      targets: [
        {
          what: 'throughput: tasks completed = tasks added',
          wanted: 'equal',
          measured: names.map((n) => `${n} ${final[n].completed}/${final[n].added}`).join(', '),
          pass: names.every((n) => final[n].completed === final[n].added && final[n].added > 0) && Object.keys(failed).length === 0,
        },
      ],
      notes: [
        `${generator} stops with up to one request in flight per connection; the server still answers those and runs their tasks, so tasks added can exceed requests answered by that much.`,
        ...Object.entries(failed).map(([name, why]) => `${name} did not start: ${why}`),
      ],
    }
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()))
  }
}

if (isMain(import.meta.url)) runAlone(throughput).finally(killAll)
