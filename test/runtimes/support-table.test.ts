import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { runs, supportTable } from './matrix.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const read = (path: string): string => readFileSync(root + path, 'utf8')
const START = '<!-- runtime-support:start -->'
const END = '<!-- runtime-support:end -->'

/** The `runtimeRun('<id>')` calls in a test file. */
const runIdsIn = (source: string): string[] => [...source.matchAll(/runtimeRun\('([^']+)'\)/g)].map((m) => m[1]!)

describe('the runtime support table', () => {
  it(`in docs/behaviour.md, between ${START} and ${END}, is the one test/runtimes/matrix.ts builds`, () => {
    const readme = read('docs/behaviour.md')
    const start = readme.indexOf(START)
    const end = readme.indexOf(END)
    const table = start >= 0 && end > start ? readme.slice(start + START.length, end).trim() : undefined
    const expected = supportTable()
    expect(table, `docs/behaviour.md should contain, between ${START} and ${END}:\n\n${expected}\n`).toBe(expected)
  })

  it.each(runs.map((run) => [run.id, run] as const))('%s: its test file runs the behaviour suite, by its rules', (id, run) => {
    expect(existsSync(root + run.suite), `${run.suite} is missing`).toBe(true)
    const source = read(run.suite)
    expect(source).toContain('behaviourSuite(')
    if (run.suite.startsWith('test/runtimes/')) {
      expect(runIdsIn(source)).toContain(id)
      expect(source).toContain('rulesFor(')
    }
  })

  it.each(runs.map((run) => [run.id, run] as const))('%s: a file probes its lifetime and task start on that runtime', (_id, run) => {
    expect(existsSync(root + run.probe), `${run.probe} is missing`).toBe(true)
    const source = read(run.probe)
    expect(source).toContain('lifetimeChecks(')
    // The probed run claims the same runtime, lifetime and task start.
    const probed = runs.filter((r) => runIdsIn(source).includes(r.id))
    expect(probed.map((r) => [r.runtime, r.lifetime, r.start])).toContainEqual([run.runtime, run.lifetime, run.start])
  })

  it('every runtime test file belongs to a run of the matrix', () => {
    const files = readdirSync(`${root}test/runtimes`).filter((f) => f.endsWith('.test.ts') && f !== 'support-table.test.ts')
    const claimed = new Set(runs.flatMap((r) => [r.suite, r.probe]))
    expect(files.map((f) => `test/runtimes/${f}`).filter((f) => !claimed.has(f))).toEqual([])
  })
})
