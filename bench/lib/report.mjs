// Tables for the console and bench/RESULTS.md. RESULTS.md is rendered from data kept in a comment at
// its end, so a piece run alone rewrites only its own section (and its rows of the summary).
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { generator } from './load.mjs'
import { benchDir, root } from './paths.mjs'
import { binaries } from './proc.mjs'

const RESULTS = path.join(benchDir, 'RESULTS.md')
const ORDER = [
  'overhead',
  'client-wait',
  'throughput',
  'size',
  'memory',
  'profile',
  'streaming',
  'slow-clients',
  'bullmq',
  'engines',
  'instructions',
  'analysis',
]

/** A markdown table with padded columns, readable in a terminal as well. */
export const table = (headers, rows) => {
  const cells = [headers, ...rows].map((row) => row.map((cell) => String(cell ?? '')))
  const widths = headers.map((_, i) => Math.max(3, ...cells.map((row) => row[i].length)))
  const line = (row) => `| ${row.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`
  return [line(cells[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n')
}

const run = (command, args) => {
  try {
    return execFileSync(command, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim()
  } catch {
    return 'n/a'
  }
}

const pkgVersion = (name) => {
  try {
    return JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version
  } catch {
    return 'n/a'
  }
}

/** `4.1.0` from `wrk -v` (which prints its version with the usage and exits with 1), or `n/a`. */
const generatorVersion = () => {
  const { stdout = '', stderr = '' } = spawnSync('wrk', ['-v'], { encoding: 'utf8', timeout: 5_000 })
  return /wrk (?:debian\/)?(\d+\.\d+\.\d+)/.exec(`${stdout}${stderr}`)?.[1] ?? 'n/a'
}

let cachedEnv
const now = () => ({
  date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  load: os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' '),
})

/** Date and load average (now), machine and versions, for RESULTS.md. */
export const environment = () => {
  if (cachedEnv) return { ...cachedEnv, ...now() }
  const cpus = os.cpus()
  const own = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
  const commit = run('git', ['rev-parse', '--short', 'HEAD'])
  const dirty = run('git', ['status', '--porcelain', '--', 'src']) !== ''
  cachedEnv = {
    machine: `${cpus.length} x ${cpus[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()} ${os.arch()}`,
    library: `${own.name} ${own.version} (git ${commit}${dirty ? ', src/ has uncommitted changes' : ''})`,
    versions: {
      node: process.version.slice(1),
      bun: binaries.bun ? run(binaries.bun, ['--version']) : 'n/a',
      deno: binaries.deno
        ? run(binaries.deno, ['--version'])
            .split('\n')[0]
            .replace(/^deno /, '')
            .replace(/ \(.*/, '')
        : 'n/a',
      workerd: pkgVersion('workerd'),
      miniflare: pkgVersion('miniflare'),
      'edge-runtime': pkgVersion('edge-runtime'),
      hono: pkgVersion('hono'),
      '@hono/node-server': pkgVersion('@hono/node-server'),
      autocannon: pkgVersion('autocannon'),
      bullmq: pkgVersion('bullmq'),
      ioredis: pkgVersion('ioredis'),
      wrk: generatorVersion(),
      esbuild: pkgVersion('esbuild'),
    },
  }
  return { ...cachedEnv, ...now() }
}

/** The markdown of one piece: title, what was measured, its tables and its targets. */
export const renderSection = (result) => {
  const stamp = result.handWritten
    ? `_Written by hand in \`bench/analysis.md\` from the measurements and profiles above; re-read it when they change._`
    : `_Measured ${result.env.date}, load average ${result.env.load}, ${result.seconds.toFixed(0)} s._`
  const parts = [`## ${result.title}`, '', stamp, '']
  if (result.intro) parts.push(result.intro, '')
  for (const t of result.tables ?? []) {
    if (t.caption) parts.push(t.caption, '')
    parts.push(table(t.headers, t.rows), '')
  }
  if (result.targets?.length) parts.push(targetTable(result.targets), '')
  for (const note of result.notes ?? []) parts.push(note, '')
  if (result.markdown) parts.push(result.markdown, '')
  return parts.join('\n').trimEnd()
}

/** `yes`, `**NO**`, or a target's own verdict (such as "inconclusive" when the run's noise exceeds the margin). */
export const verdict = (t) => t.verdict ?? (t.pass ? 'yes' : '**NO**')

const targetTable = (targets) =>
  table(
    ['Target', 'Wanted', 'Measured', 'Met'],
    targets.map((t) => [t.what, t.wanted, t.measured, verdict(t)]),
  )

/** Prints a piece's section to the console. */
export const printSection = (result) => {
  console.log(`\n${renderSection(result)}\n`)
}

const ANALYSIS = path.join(benchDir, 'analysis.md')

/** The hand-written analysis (bench/analysis.md, its first heading dropped) as a section. */
const analysis = () => {
  if (!existsSync(ANALYSIS)) return undefined
  const text = readFileSync(ANALYSIS, 'utf8')
    .replace(/^# .*\n+/, '')
    .trim()
  return { id: 'analysis', title: 'Analysis: the missed targets', env: environment(), seconds: 0, handWritten: true, markdown: text }
}

/** Sections are kept between markers, each with its targets as one line of JSON, so they can be read back. */
const SECTION = /<!-- section:([\w-]+) (\{.*\}) -->\n([\s\S]*?)\n<!-- \/section:\1 -->/g

const readSections = () => {
  const sections = {}
  if (!existsSync(RESULTS)) return sections
  for (const [, id, meta, markdown] of readFileSync(RESULTS, 'utf8').matchAll(SECTION)) {
    try {
      sections[id] = { ...JSON.parse(meta), markdown }
    } catch {}
  }
  return sections
}

/**
 * Writes bench/RESULTS.md with `results` replacing the sections of the same id. `fresh` drops the
 * sections of earlier runs (the full `npm run bench`).
 */
export const writeResults = (results, { fresh = false, totalSeconds } = {}) => {
  const sections = fresh ? {} : readSections()
  // A piece run alone keeps the duration of the last full run.
  const previousTotal =
    !fresh && totalSeconds === undefined && existsSync(RESULTS)
      ? /^- The full run took .*$/m.exec(readFileSync(RESULTS, 'utf8'))?.[0]
      : undefined
  const notes = analysis()
  for (const result of notes ? [...results, notes] : results) {
    sections[result.id] = { markdown: renderSection(result), targets: result.targets ?? [], date: result.env.date }
  }
  const env = environment()
  const ids = Object.keys(sections).sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b))
  const allTargets = ids.flatMap((id) => sections[id].targets)
  const dates = [...new Set(ids.map((id) => sections[id].date.slice(0, 10)))]
  const lines = [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (`node bench/run.mjs`); a piece run alone rewrites only its own section. The claims are',
    'ratios between variants measured side by side in interleaved rounds (the median of the per-round ratios); the',
    'absolute numbers depend on the machine and on its neighbours. The "Analysis" section is `bench/analysis.md`.',
    '',
    `- Date: ${env.date}${dates.length > 1 ? ` (sections measured on ${dates.join(', ')})` : ''}`,
    `- Machine: ${env.machine}; load average at start ${env.load}`,
    `- Library: ${env.library}`,
    `- Load generator: ${generator === 'wrk' ? `wrk ${env.versions.wrk} (\`wrk -t1\`, a C client); autocannon only where wrk is not installed` : `autocannon ${env.versions.autocannon} (${process.env.BENCH_GENERATOR === 'autocannon' ? 'BENCH_GENERATOR=autocannon' : 'wrk is not installed'})`}; each section names the one that produced its figures`,
    `- Versions: ${Object.entries(env.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    ...(totalSeconds ? [`- The full run took ${Math.round(totalSeconds)} s`] : previousTotal ? [previousTotal] : []),
    '',
    '## Targets',
    '',
    allTargets.length ? targetTable(allTargets) : '_none measured yet_',
    '',
    ...ids.flatMap((id) => {
      const { markdown, ...meta } = sections[id]
      return [`<!-- section:${id} ${JSON.stringify(meta)} -->`, markdown, `<!-- /section:${id} -->`, '']
    }),
  ]
  writeFileSync(RESULTS, lines.join('\n'))
  return RESULTS
}

/** Runs `piece` as a script: prints its section, writes RESULTS.md, exits (killing the servers). */
export const runAlone = async (piece) => {
  const started = performance.now()
  try {
    const result = await piece()
    result.seconds ??= (performance.now() - started) / 1000
    printSection(result)
    const file = writeResults([result])
    console.log(`wrote ${path.relative(process.cwd(), file)}`)
    process.exit(0)
  } catch (error) {
    console.error(error)
    process.exit(1)
  }
}
