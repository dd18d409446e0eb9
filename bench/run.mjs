// `npm run bench`: every piece in turn, then bench/RESULTS.md written afresh. Each piece also runs alone
// (`node bench/overhead.mjs`, ...) and then rewrites only its own section.
import path from 'node:path'
import { bullmq } from './bullmq.mjs'
import { clientWait } from './client-wait.mjs'
import { engines } from './engines.mjs'
import { instructions } from './instructions.mjs'
import { killAll } from './lib/proc.mjs'
import { printSection, table, verdict, writeResults } from './lib/report.mjs'
import { memory } from './memory.mjs'
import { overhead } from './overhead.mjs'
import { profile } from './profile.mjs'
import { size } from './size.mjs'
import { slowClients } from './slow-clients.mjs'
import { streaming } from './streaming.mjs'
import { throughput } from './throughput.mjs'

const PIECES = {
  size,
  overhead,
  'client-wait': clientWait,
  throughput,
  memory,
  profile,
  streaming,
  'slow-clients': slowClients,
  bullmq,
  engines,
  instructions,
}

const only = process.argv.slice(2)
const started = performance.now()
const results = []
let failed = false
for (const [name, piece] of Object.entries(PIECES)) {
  if (only.length && !only.includes(name)) continue
  const pieceStarted = performance.now()
  console.error(`\n[bench] ${name}...`)
  try {
    const result = await piece()
    result.seconds ??= (performance.now() - pieceStarted) / 1000
    printSection(result)
    results.push(result)
  } catch (error) {
    failed = true
    console.error(`[bench] ${name} failed:`, error)
  }
}
killAll()
const totalSeconds = (performance.now() - started) / 1000
const file = writeResults(results, { fresh: only.length === 0 && !failed, totalSeconds: only.length === 0 ? totalSeconds : undefined })
const targets = results.flatMap((r) => r.targets ?? [])
console.log(
  `\n## Targets\n\n${table(
    ['Target', 'Wanted', 'Measured', 'Met'],
    targets.map((t) => [t.what, t.wanted, t.measured, verdict(t)]),
  )}\n`,
)
console.log(
  `${targets.filter((t) => t.pass).length} of ${targets.length} targets met; ${Math.round(totalSeconds)} s; wrote ${path.relative(process.cwd(), file)}`,
)
// Missed targets are results, not failures; a piece that could not run is.
process.exit(failed ? 1 : 0)
