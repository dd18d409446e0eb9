/**
 * Real processes for the reliability tests: bundle a fixture with esbuild, start it on Node, Bun
 * or Deno in its own process group, read its output line by line, and always kill it afterwards.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

export const root = fileURLToPath(new URL('../..', import.meta.url))

export type Runtime = 'node' | 'bun' | 'deno'

const commands: Record<Runtime, (script: string, nodeArgs: string[]) => string[]> = {
  node: (script, nodeArgs) => [process.execPath, ...nodeArgs, script],
  bun: (script) => [join(root, 'node_modules/bun/bin/bun.exe'), script],
  // The platform binary itself: killing the npm wrapper could leave the real deno running. `--unstable-kv`
  // lets the Deno KV fixtures open a store; it changes nothing for the others.
  deno: (script) => [join(root, 'node_modules/deno/deno'), 'run', '--allow-all', '--unstable-kv', '--no-config', script],
}

/** Bundles `entry` (relative to the repository) into a temporary directory; returns the script and a cleanup. */
export const bundleFixture = async (entry: string): Promise<{ script: string; dir: string; remove: () => Promise<void> }> => {
  const dir = await mkdtemp(join(tmpdir(), 'hbt-'))
  const result = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  })
  const script = join(dir, 'server.mjs')
  await writeFile(script, result.outputFiles[0]!.text)
  return { script, dir, remove: () => rm(dir, { recursive: true, force: true }) }
}

/** A running fixture process. */
export interface Proc {
  readonly child: ChildProcessWithoutNullStreams
  readonly stdout: string[]
  readonly stderr: string[]
  /** Resolves with the first line of `stream` matching `pattern` (seen already, or to come). */
  line(stream: 'stdout' | 'stderr', pattern: RegExp): Promise<string>
  /** Writes one line to its stdin. */
  send(line: string): void
  signal(name: NodeJS.Signals): void
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** SIGKILLs its whole process group if it is still running. */
  kill(): void
}

const running = new Set<Proc>()

/** How to start a fixture. */
export interface StartOptions {
  /** Working directory (the bundle's, so that Deno finds no project config). */
  cwd: string
  /** Added to the environment. */
  env?: Record<string, string>
  /** Flags for `node` itself, such as `--expose-gc`. */
  nodeArgs?: string[]
  /** Another Node binary for `node`, such as the one pg-boss needs (scripts/node-22.mjs). */
  node?: string
}

/** Starts `script` on `runtime` in its own process group. */
export const startProcess = (runtime: Runtime, script: string, { cwd, env = {}, nodeArgs = [], node }: StartOptions): Proc => {
  const [command, ...args] = runtime === 'node' && node ? [node, ...nodeArgs, script] : commands[runtime](script, nodeArgs)
  const child = spawn(command!, args, {
    cwd,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', ...env },
  })
  const lines = { stdout: [] as string[], stderr: [] as string[] }
  const watchers: { stream: 'stdout' | 'stderr'; pattern: RegExp; resolve: (line: string) => void }[] = []
  for (const stream of ['stdout', 'stderr'] as const) {
    let rest = ''
    child[stream].setEncoding('utf8')
    child[stream].on('data', (chunk: string) => {
      rest += chunk
      for (let i = rest.indexOf('\n'); i >= 0; i = rest.indexOf('\n')) {
        const line = rest.slice(0, i)
        rest = rest.slice(i + 1)
        lines[stream].push(line)
        for (const w of [...watchers]) {
          if (w.stream === stream && w.pattern.test(line)) {
            watchers.splice(watchers.indexOf(w), 1)
            w.resolve(line)
          }
        }
      }
    })
  }
  let done = false
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      done = true
      resolve({ code, signal })
    })
  })
  child.stdin.on('error', () => {})
  const proc: Proc = {
    child,
    stdout: lines.stdout,
    stderr: lines.stderr,
    line(stream, pattern) {
      const seen = lines[stream].find((l) => pattern.test(l))
      if (seen !== undefined) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        watchers.push({ stream, pattern, resolve })
        exited.then(() => {
          // Output may still be draining from the pipe: look once more before giving up.
          setTimeout(() => {
            const late = lines[stream].find((l) => pattern.test(l))
            if (late !== undefined) resolve(late)
            else reject(new Error(`${runtime} exited without printing ${pattern} on ${stream}:\n${lines.stderr.join('\n')}`))
          }, 50)
        })
      })
    },
    send(line) {
      child.stdin.write(`${line}\n`)
    },
    signal(name) {
      child.kill(name)
    },
    exited,
    kill() {
      running.delete(proc)
      if (done || child.pid === undefined) return
      try {
        process.kill(-child.pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
    },
  }
  running.add(proc)
  return proc
}

/** Kills every process started here that is still running; call it from afterEach/afterAll. */
export const killAll = (): void => {
  for (const proc of [...running]) proc.kill()
}

/** The port a fixture printed as `listening <port>`. */
export const portOf = async (proc: Proc): Promise<number> => Number(/listening (\d+)/.exec(await proc.line('stdout', /^listening \d+/))![1])

/** The JSON summary a fixture prints as `summary {...}` when it exits. */
export const summaryOf = async <T>(proc: Proc): Promise<T> =>
  JSON.parse((await proc.line('stdout', /^summary /)).slice('summary '.length)) as T
