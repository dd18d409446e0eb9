/**
 * Starts a server in a child process of its own process group, waits for the line that gives its
 * URL, and stops the whole group: no runtime's process outlives the test file. The command runs
 * under servers/guard.mjs, which kills the group if this process dies without stopping it.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const guard = fileURLToPath(new URL('./servers/guard.mjs', import.meta.url))

/** A server running in a child process group. */
export interface ServerProcess {
  /** `http://127.0.0.1:<port>`. */
  readonly base: string
  /** Everything the group wrote so far, for failure messages. */
  output(): string
  /** Resolves once the output matches `pattern` (bounded by the test's timeout). */
  waitForOutput(pattern: RegExp): Promise<void>
  /** Sends `signal` to the server process (not its group), as a deploy would. */
  signal(signal: NodeJS.Signals): void
  /** The exit code, once the process has exited; `null` while it runs or if a signal ended it. */
  exitCode(): number | null
  /** Resolves with the exit code once the process has exited. */
  exited(): Promise<number | null>
  /** Stops the whole process group and waits for the leader to exit. */
  stop(): Promise<void>
}

export interface StartOptions {
  /** Extra environment variables. */
  env?: Record<string, string>
  /** Matches the line that announces the server; group 1 is its URL. */
  ready: RegExp
  /** Milliseconds to wait for `ready` before giving up. @default 30_000 */
  timeout?: number
}

const groups = new Set<number>()

// A last resort if the worker exits without afterAll (a crash, or vitest tearing down early).
process.once('exit', () => {
  for (const pid of groups) killGroup(pid, 'SIGKILL')
})

const killGroup = (pid: number, signal: NodeJS.Signals): void => {
  try {
    process.kill(-pid, signal)
  } catch {
    // The group is already gone.
  }
}

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()))

/** Spawns `command args` in a new process group and resolves once it has printed its URL. */
export const startServer = async (command: string, args: string[], options: StartOptions): Promise<ServerProcess> => {
  const { env = {}, ready, timeout = 30_000 } = options
  // stdin stays an open pipe: the guard ends the group when it closes, even if this process dies.
  const child = spawn(process.execPath, [guard, command, ...args], {
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  })
  const pid = child.pid
  if (pid === undefined) throw new Error(`could not start ${command}`)
  groups.add(pid)
  let output = ''
  const watchers = new Set<() => void>()
  const stop = async () => {
    if (!groups.delete(pid)) return
    killGroup(pid, 'SIGTERM')
    const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), 5_000)
    await exited(child)
    clearTimeout(timer)
    // Children the leader started (workerd under wrangler) go with the group.
    killGroup(pid, 'SIGKILL')
    child.stdin?.destroy()
  }
  try {
    const base = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${command} did not get ready within ${timeout} ms`)), timeout)
      const onData = (chunk: Buffer) => {
        output += chunk.toString()
        const match = ready.exec(output)
        if (match?.[1]) {
          clearTimeout(timer)
          resolve(match[1])
        }
      }
      child.stdout?.on('data', onData)
      child.stderr?.on('data', onData)
      child.once('error', (error) => {
        clearTimeout(timer)
        reject(error)
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`${command} exited (${signal ?? code}) before it was ready`))
      })
    })
    child.stdout?.on('data', () => {
      for (const watch of watchers) watch()
    })
    child.stderr?.on('data', () => {
      for (const watch of watchers) watch()
    })
    const waitForOutput = (pattern: RegExp) =>
      new Promise<void>((resolve) => {
        const watch = () => {
          if (!pattern.test(output)) return
          watchers.delete(watch)
          resolve()
        }
        watchers.add(watch)
        watch()
      })
    return {
      base,
      output: () => output,
      waitForOutput,
      signal: (signal) => child.kill(signal),
      exitCode: () => child.exitCode,
      exited: () => exited(child).then(() => child.exitCode),
      stop,
    }
  } catch (error) {
    await stop()
    throw new Error(`${(error as Error).message}; its output:\n${output}`)
  }
}
