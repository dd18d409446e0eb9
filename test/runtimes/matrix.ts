/**
 * Every runtime the behaviour suite runs on, and how. The runtime test files take their run from
 * here (`runtimeRun(id)`), the lifetime probes check its `lifetime` and `start`, and
 * support-table.test.ts checks that the runtime support table in docs/behaviour.md is `supportTable()`.
 */
import type { SuiteRules } from '../_support/behaviour-suite.ts'

/** Where the library finds the request's lifetime (what `findLifetime` answers, by source). */
export type LifetimeSource = 'executionCtx' | 'netlify' | 'vercel' | 'in-process' | 'before-response'

/** When the tasks start (what `whenFinished` waits for). */
export type TaskStart = 'response-finish' | 'info-completed' | 'last-chunk' | 'before-reply'

/** One way the suite is run. */
export interface Run {
  readonly id: string
  /** The row of the support table it belongs to. */
  readonly runtime: string
  /** What the run does, for the table's "tested" column (Markdown). */
  readonly how: string
  /** When this run's lifetime applies, if the runtime has more than one (Markdown). */
  readonly when?: string
  readonly lifetime: LifetimeSource
  readonly start: TaskStart
  /** The test file that runs `behaviourSuite()` this way. */
  readonly suite: string
  /** The test file whose `lifetimeChecks()` prove `lifetime` and `start` on this runtime. */
  readonly probe: string
  /** The suite's per-runtime rules (see `SuiteRules`); `tasksRun` follows from `lifetime`. */
  readonly rules?: Omit<SuiteRules, 'tasksRun'>
}

const WORKERS = 'Cloudflare Workers'
const VERCEL = 'Vercel Edge'

/** All runs, in the table's order. */
export const runs: readonly Run[] = [
  {
    id: 'workerd-vitest-plugin',
    runtime: WORKERS,
    how: 'in workerd, `@cloudflare/vitest-plugin`',
    lifetime: 'executionCtx',
    start: 'last-chunk',
    suite: 'test/workerd/behaviour.test.ts',
    probe: 'test/runtimes/wrangler-dev.test.ts',
  },
  {
    id: 'wrangler-dev',
    runtime: WORKERS,
    how: 'over HTTP, `wrangler dev`',
    lifetime: 'executionCtx',
    start: 'last-chunk',
    suite: 'test/runtimes/wrangler-dev.test.ts',
    probe: 'test/runtimes/wrangler-dev.test.ts',
    rules: { clientGone: 'stream-runs-on' },
  },
  {
    id: 'vercel-edge-context',
    runtime: VERCEL,
    how: 'over HTTP in `edge-runtime` (`runServer`), a handler that passes its context',
    when: 'if the handler passes its context',
    lifetime: 'executionCtx',
    start: 'last-chunk',
    suite: 'test/runtimes/vercel-edge.test.ts',
    probe: 'test/runtimes/vercel-edge.test.ts',
    rules: { clientGone: 'stream-runs-on' },
  },
  {
    id: 'vercel-edge-request-context',
    runtime: VERCEL,
    how: "the same with `hono/vercel`'s `handle`",
    when: 'otherwise',
    lifetime: 'vercel',
    start: 'last-chunk',
    suite: 'test/runtimes/vercel-edge.test.ts',
    probe: 'test/runtimes/vercel-edge.test.ts',
    rules: { clientGone: 'stream-runs-on' },
  },
  {
    id: 'netlify',
    runtime: 'Netlify',
    how: "`hono/netlify`'s `handle`, in process",
    lifetime: 'netlify',
    start: 'last-chunk',
    suite: 'test/runtimes/netlify.test.ts',
    probe: 'test/runtimes/netlify.test.ts',
  },
  {
    id: 'node-server',
    runtime: 'Node',
    how: 'over HTTP, `@hono/node-server`',
    lifetime: 'in-process',
    start: 'response-finish',
    suite: 'test/node-server.test.ts',
    probe: 'test/runtimes/node.test.ts',
  },
  {
    id: 'node-app-request',
    runtime: 'Node',
    how: '`app.request`',
    lifetime: 'in-process',
    start: 'last-chunk',
    suite: 'test/node-app-request.test.ts',
    probe: 'test/runtimes/node.test.ts',
  },
  {
    id: 'bun',
    runtime: 'Bun',
    how: 'over HTTP, `Bun.serve` in `bun`',
    lifetime: 'in-process',
    start: 'last-chunk',
    suite: 'test/runtimes/bun.test.ts',
    probe: 'test/runtimes/bun.test.ts',
  },
  {
    id: 'deno',
    runtime: 'Deno',
    how: 'over HTTP, `Deno.serve` in `deno`',
    lifetime: 'in-process',
    start: 'info-completed',
    suite: 'test/runtimes/deno.test.ts',
    probe: 'test/runtimes/deno.test.ts',
  },
  {
    id: 'aws-lambda',
    runtime: 'AWS Lambda',
    how: "with the env `hono/aws-lambda`'s `handle` passes, in process; `handle`, `streamHandle` and `hono/lambda-edge` on events",
    lifetime: 'before-response',
    start: 'before-reply',
    suite: 'test/runtimes/aws-lambda.test.ts',
    probe: 'test/runtimes/aws-lambda.test.ts',
  },
]

/** The run with this id; throws for an unknown one, so a test file cannot run outside the matrix. */
export const runtimeRun = (id: string): Run => {
  const run = runs.find((r) => r.id === id)
  if (!run) throw new Error(`test/runtimes/matrix.ts has no run "${id}"`)
  return run
}

/** The suite rules a run needs: Lambda runs tasks before the reply. */
export const rulesFor = (run: Run): SuiteRules => ({
  ...run.rules,
  tasksRun: run.lifetime === 'before-response' ? 'before-response' : 'after-response',
})

/** What the table says about a run's rules. */
const ruleNotes = (run: Run): string[] => {
  const notes: string[] = []
  if (run.lifetime === 'before-response') notes.push('the client waits for the tasks')
  if (run.rules?.clientGone === 'stream-runs-on') notes.push("a client going away is seen only at the stream's next write")
  return notes
}

/** A describe title: `Bun: over HTTP, ...`. */
export const titleOf = (run: Run): string => `${run.runtime}: ${run.how}`

const LIFETIME: Record<LifetimeSource, string> = {
  executionCtx: '`c.executionCtx.waitUntil`',
  netlify: '`c.env.context.waitUntil`',
  vercel: "`globalThis[Symbol.for('@vercel/request-context')]`",
  'in-process': 'the in-process runner',
  'before-response': 'nothing: the tasks run before the reply',
}

const START: Record<TaskStart, string> = {
  'response-finish': 'once the `ServerResponse` emits `close` (after `finish`, or when the client is gone)',
  'info-completed': "once `Deno.serve`'s `info.completed` settles (for a buffered body, once Deno has taken it)",
  'last-chunk':
    'a buffered body (as the Context made it, or one that ends within a 64 KiB peek of a clone): once it is handed over, untouched; a streamed one, passed on chunk by chunk as it is read: once its last chunk is read, or the client is gone',
  'before-reply': 'before the reply',
}

const unique = <T>(items: T[]): T[] => [...new Set(items)]

/** The runs of a row, each with its rule notes; notes shared with the next run are said once, there. */
const tested = (of: readonly Run[]): string =>
  of
    .map((run, i) => {
      const notes = ruleNotes(run).join('; ')
      const next = of[i + 1]
      return notes === '' || (next && ruleNotes(next).join('; ') === notes) ? run.how : `${run.how} (${notes})`
    })
    .join('; ')

/** The runtime support table of docs/behaviour.md, one row per runtime, built from `runs`. */
export const supportTable = (): string => {
  const rows = unique(runs.map((r) => r.runtime)).map((runtime) => {
    const of = runs.filter((r) => r.runtime === runtime)
    const lifetime = unique(of.map((r) => (r.when ? `${LIFETIME[r.lifetime]} ${r.when}` : LIFETIME[r.lifetime])))
    // One start for the row, or each with the run it belongs to.
    const starts = unique(of.map((r) => r.start))
    const start = starts.length === 1 ? [START[starts[0]!]] : of.map((r) => `${START[r.start]} (${r.how})`)
    return `| ${runtime} | ${lifetime.join('; ')} | ${start.join('; ')} | ${tested(of)} |`
  })
  return ['| Runtime | Work kept alive by | Tasks start | The behaviour suite runs |', '| --- | --- | --- | --- |', ...rows].join('\n')
}
