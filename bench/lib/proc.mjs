// Child server processes: each runs in its own process group, announces its port with one JSON line
// on stdout, and is killed (the whole group) when the benchmark ends, however it ends.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { root } from './paths.mjs'

const children = new Set()

/** Where `command` is on the PATH, or `undefined` when it is not installed. */
export const commandPath = (command) => {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || undefined
  } catch {
    return undefined
  }
}

const killGroup = (child, signal = 'SIGKILL') => {
  if (child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    try {
      child.kill(signal)
    } catch {}
  }
}

export const killAll = () => {
  for (const child of children) killGroup(child)
  children.clear()
}

process.on('exit', killAll)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    killAll()
    process.exit(130)
  })
}

/** The real binaries, not the npm wrappers (a killed deno wrapper can leave its child running). */
export const binaries = {
  node: process.execPath,
  bun: [
    path.join(root, `node_modules/@oven/bun-${process.platform}-${process.arch === 'arm64' ? 'aarch64' : process.arch}/bin/bun`),
    path.join(root, 'node_modules/bun/bin/bun.exe'),
    path.join(root, 'node_modules/.bin/bun'),
  ].find((p) => existsSync(p)),
  deno: [
    path.join(root, `node_modules/@deno/${process.platform}-${process.arch}-glibc/deno`),
    path.join(root, `node_modules/@deno/${process.platform}-${process.arch}/deno`),
    path.join(root, 'node_modules/deno/deno'),
    path.join(root, 'node_modules/.bin/deno'),
  ].find((p) => existsSync(p)),
}

/**
 * Starts `command args` and resolves once it prints `{"port": N}` (or `{"ready": true}`). Rejects with its output if it
 * exits or stays silent for `timeout` ms.
 */
export const startServer = (name, command, args, { env = {}, timeout = 30_000 } = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: root,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', ...env },
    })
    children.add(child)
    let output = ''
    let ready = false
    const fail = (why) => {
      if (ready) return
      ready = true
      clearTimeout(timer)
      killGroup(child)
      reject(new Error(`${name}: ${why}\n${output.slice(-4000)}`))
    }
    const timer = setTimeout(() => fail(`not ready after ${timeout} ms`), timeout)
    let buffered = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk) => {
      if (ready) return
      output += chunk
      buffered += chunk
      let nl = buffered.indexOf('\n')
      while (nl >= 0) {
        const line = buffered.slice(0, nl).trim()
        buffered = buffered.slice(nl + 1)
        nl = buffered.indexOf('\n')
        if (!line.startsWith('{')) continue
        try {
          // A server announces its port; a process without one (a queue worker) `{"ready": true}`.
          const { port, ready: announced } = JSON.parse(line)
          if (!port && announced !== true) continue
          ready = true
          clearTimeout(timer)
          resolve({
            name,
            port,
            url: `http://127.0.0.1:${port}`,
            child,
            output: () => output,
            stop: (signal) => stopChild(child, signal),
          })
          return
        } catch {}
      }
    })
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk) => {
      output += chunk
      // Errors after start-up (a task that threw, a crash) are shown, not swallowed.
      if (ready) process.stderr.write(`[${name}] ${chunk}`)
    })
    child.on('error', (error) => fail(error.message))
    child.on('exit', (code, signal) => {
      children.delete(child)
      fail(`exited early (code ${code}, signal ${signal})`)
    })
  })

/** Sends `signal` (the server exits cleanly on SIGTERM), then SIGKILLs the group after `grace` ms. */
const stopChild = (child, signal = 'SIGKILL', grace = 5_000) =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => killGroup(child), grace)
    child.once('exit', () => {
      clearTimeout(timer)
      killGroup(child) // anything left in its group
      children.delete(child)
      resolve()
    })
    try {
      if (signal === 'SIGKILL') killGroup(child)
      else child.kill(signal)
    } catch {
      killGroup(child)
    }
  })

/** `pid` and its descendants (workerd runs as a child of its miniflare host), from /proc; Linux only. */
export const processTree = (pid) => {
  const parentOf = new Map()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // The parent is the second field after the command, which is in parentheses and may hold spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
    } catch {}
  }
  const tree = [pid]
  for (let i = 0; i < tree.length; i++) for (const [child, parent] of parentOf) if (parent === tree[i]) tree.push(child)
  return tree
}

const statusKb = (status, key) => {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)
  return m ? Number(m[1]) * 1024 : 0
}

/** Resident memory (VmRSS) and its peak since the last `resetPeak` (VmHWM) in bytes, summed over `pids`. */
export const treeMemory = (pids) => {
  let rss = 0
  let hwm = 0
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8')
      rss += statusKb(status, 'VmRSS')
      hwm += statusKb(status, 'VmHWM')
    } catch {}
  }
  return { rss, hwm }
}

/** Resets the peak (VmHWM) of `pids` to their current RSS; false where the kernel refuses. */
export const resetPeak = (pids) => {
  try {
    for (const pid of pids) writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}
