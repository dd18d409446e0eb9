// The process plumbing of the examples' demo.mjs scripts (node-durable, node-postgres, deno-kv):
// start a child in its own process group, echo its output line by line as `  <role> | <line>`,
// wait for a line, kill its whole group, and on the way out kill what is left, run the cleanups
// (last registered first) and exit; give up after a deadline.

import { spawn } from 'node:child_process'

/**
 * @typedef {object} DemoProcess
 * @property {number} pid
 * @property {string} role
 * @property {string[]} lines every line it printed so far, stdout and stderr together
 * @property {(pattern: RegExp) => Promise<string>} waitFor resolves with the first line matching `pattern`, printed already or to come
 * @property {Promise<{ code: number | null, signal: NodeJS.Signals | null }>} exited
 */

/**
 * @typedef {object} StartOptions
 * @property {string} cwd
 * @property {Record<string, string | undefined>} [env] added to this process's environment
 * @property {RegExp} ready the line that says it is ready: `start()` resolves on it
 */

/**
 * One demo's processes. Arms a timer that fails the demo after `timeout` milliseconds.
 * @param {{ timeout: number }} options
 */
export const demoProcesses = ({ timeout }) => {
  /** @type {Set<import('node:child_process').ChildProcess>} */
  const children = new Set()
  /** @type {(() => void)[]} */
  const cleanups = []

  /**
   * Kills the whole process group of `child` with `signal`; nothing if it is gone.
   * @param {{ pid?: number }} child
   * @param {NodeJS.Signals} signal
   */
  const kill = (child, signal) => {
    try {
      process.kill(-(/** @type {number} */ (child.pid)), signal)
    } catch {}
  }

  /**
   * SIGKILLs the processes still running, runs the cleanups (last registered first) and exits.
   * @param {number} code
   * @returns {never}
   */
  const finish = (code) => {
    for (const child of children) kill(child, 'SIGKILL')
    for (const cleanup of cleanups.reverse()) cleanup()
    process.exit(code)
  }

  /**
   * Prints `demo: <why>` on stderr and finishes with code 1.
   * @param {string} why
   * @returns {never}
   */
  const fail = (why) => {
    console.error(`demo: ${why}`)
    return finish(1)
  }

  setTimeout(() => fail(`gave up after ${timeout / 1000} s`), timeout).unref()

  /**
   * Runs `cleanup` when the demo finishes, whether it succeeded or not.
   * @param {() => void} cleanup
   */
  const onFinish = (cleanup) => {
    cleanups.push(cleanup)
  }

  /**
   * Starts `command` in its own process group and echoes its lines as `  <role> | <line>`.
   * Resolves once it prints a line matching `ready`; rejects if it exits before that.
   * @param {string} role
   * @param {string[]} command the program and its arguments
   * @param {StartOptions} options
   * @returns {Promise<DemoProcess>}
   */
  const start = (role, [program, ...args], { cwd, env = {}, ready }) =>
    new Promise((resolve, reject) => {
      const child = spawn(/** @type {string} */ (program), args, {
        cwd,
        detached: true,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      children.add(child)
      /** @type {string[]} */
      const lines = []
      /** @type {{ pattern: RegExp, resolve: (line: string) => void }[]} */
      const waiters = []
      /** @param {string} line */
      const onLine = (line) => {
        lines.push(line)
        console.log(`  ${role} | ${line}`)
        for (const waiter of [...waiters]) {
          if (waiter.pattern.test(line)) {
            waiters.splice(waiters.indexOf(waiter), 1)
            waiter.resolve(line)
          }
        }
      }
      for (const stream of [child.stdout, child.stderr]) {
        let rest = ''
        stream.setEncoding('utf8')
        stream.on('data', (chunk) => {
          rest += chunk
          for (let i = rest.indexOf('\n'); i >= 0; i = rest.indexOf('\n')) {
            onLine(rest.slice(0, i))
            rest = rest.slice(i + 1)
          }
        })
      }
      /** @type {DemoProcess['exited']} */
      const exited = new Promise((done) => child.on('exit', (code, signal) => done({ code, signal })))
      exited.then(({ code, signal }) => {
        children.delete(child)
        reject(new Error(`${role} exited (code ${code}, signal ${signal}) before it was ready`))
      })
      child.on('error', (error) => reject(new Error(`${role} did not start: ${error.message}`)))
      /** @type {DemoProcess['waitFor']} */
      const waitFor = (pattern) =>
        new Promise((done) => {
          const seen = lines.find((line) => pattern.test(line))
          if (seen !== undefined) done(seen)
          else waiters.push({ pattern, resolve: done })
        })
      const proc = { pid: /** @type {number} */ (child.pid), role, lines, waitFor, exited }
      waitFor(ready).then(() => resolve(proc))
    })

  /**
   * Runs the demo: finishes with 0 once `main` resolves, or fails with its error's message.
   * @param {() => Promise<void>} main
   */
  const run = async (main) => {
    try {
      await main()
      finish(0)
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error))
    }
  }

  /**
   * The step every demo proves: registers Ada with the web process (a started child that printed
   * `listening on <url>`), kills it with SIGKILL the moment its response is in, and prints both;
   * fails unless the response was a 201.
   */
  const registerThenKill = async (web) => {
    const base = /listening on (http:\/\/\S+)/.exec(web.lines.find((l) => /listening on/.test(l)))[1]
    const res = await fetch(`${base}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ada@example.com', name: 'Ada Lovelace' }),
    })
    kill(web, 'SIGKILL')
    console.log(`demo: POST /register -> ${res.status} ${await res.text()}`)
    const { signal } = await web.exited
    console.log(`demo: killed the web process (pid ${web.pid}) with SIGKILL right after its response: it exited by ${signal}`)
    if (res.status !== 201) fail(`expected 201, got ${res.status}`)
  }

  return { start, kill, fail, finish, onFinish, run, registerThenKill }
}
