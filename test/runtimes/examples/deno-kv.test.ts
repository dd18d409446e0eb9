import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { root } from '../../_support/processes.ts'

// The demo makes a KV store (a SQLite file in a temporary directory), starts the web process on
// Deno (the npm `deno` dev dependency), kills it with SIGKILL right after its 201, then starts a
// worker process on Deno, which finds the message when it opens the store and sends the email.
describe('examples/deno-kv: node examples/deno-kv/demo.mjs', () => {
  it('is the command its README gives, and npm run example:deno-kv runs it', () => {
    expect(readFileSync(`${root}examples/deno-kv/README.md`, 'utf8')).toContain('node examples/deno-kv/demo.mjs')
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { scripts: Record<string, string> }
    expect(pkg.scripts['example:deno-kv']).toBe('node examples/deno-kv/demo.mjs')
  })

  it('prints the 201, kills the web process by SIGKILL, then a worker process sends the email', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['examples/deno-kv/demo.mjs'], { cwd: root, timeout: 60_000 })
    const lines = stdout.split('\n')
    const index = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line))
    const response = index(/^demo: POST \/register -> 201 \{"id":"[0-9a-f-]{36}","email":"ada@example.com"\}$/)
    const killed = index(/^demo: killed the web process \(pid (\d+)\) with SIGKILL right after its response: it exited by SIGKILL$/)
    const worker = index(/^demo: starting a worker process \(Deno\)/)
    const sent = index(
      /^ {2}worker \| \[email\] welcome email to ada@example\.com sent .* by worker pid (\d+), message [0-9a-f-]{36}, attempt 1$/,
    )
    // In this order: the 201, the kill, and only then a worker, which sends the email.
    expect([response, killed, worker, sent].every((i) => i >= 0)).toBe(true)
    expect(response < killed && killed < worker && worker < sent).toBe(true)
    const webPid = /pid (\d+)/.exec(lines[killed]!)![1]
    const workerPid = /worker pid (\d+)/.exec(lines[sent]!)![1]
    expect(workerPid).not.toBe(webPid)
    // The web process committed it before its response: it logged the send, not a failure.
    expect(stdout).toContain('web | [background-tasks] sendWelcomeEmail: sent to the queue in')
    expect(stdout).not.toContain('TaskSendError')
    // The worker ran it once, and stopped cleanly on SIGTERM with nothing left unfinished.
    expect(lines.filter((line) => /^ {2}worker \| \[email\] /.test(line))).toHaveLength(1)
    expect(stdout).toMatch(/worker \| worker: SIGTERM: finished \d+ tasks?; exiting with code 0/)
  }, 90_000)
})
