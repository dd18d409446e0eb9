import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'
import { describeWithPostgres } from '../../_support/postgres.ts'
import { root } from '../../_support/processes.ts'

// The demo starts its own throwaway PostgreSQL, the web process (under the Node pg-boss needs),
// kills it with SIGKILL right after its 201, then starts a worker process that sends the email.
describeWithPostgres('examples/node-postgres: node examples/node-postgres/demo.mjs', () => {
  it('is the command its README gives', () => {
    expect(readFileSync(`${root}examples/node-postgres/README.md`, 'utf8')).toContain('node examples/node-postgres/demo.mjs')
  })

  it('prints the 201, kills the web process by SIGKILL, then a worker process sends the email', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['examples/node-postgres/demo.mjs'], { cwd: root, timeout: 120_000 })
    const lines = stdout.split('\n')
    const index = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line))
    const response = index(/^demo: POST \/register -> 201 \{"id":"[0-9a-f-]{36}","email":"ada@example.com"\}$/)
    const killed = index(/^demo: killed the web process \(pid (\d+)\) with SIGKILL right after its response: it exited by SIGKILL$/)
    const worker = index(/^demo: starting a worker process/)
    const sent = index(
      /^ {2}worker \| \[email\] welcome email to ada@example\.com sent .* by worker pid (\d+), job [0-9a-f-]{36}, attempt 1$/,
    )
    // In this order: the 201, the kill, and only then a worker, which sends the email.
    expect([response, killed, worker, sent].every((i) => i >= 0)).toBe(true)
    expect(response < killed && killed < worker && worker < sent).toBe(true)
    const webPid = /pid (\d+)/.exec(lines[killed]!)![1]
    const workerPid = /worker pid (\d+)/.exec(lines[sent]!)![1]
    expect(workerPid).not.toBe(webPid)
    // The web process inserted it before its response: it logged the send, not a failure.
    expect(stdout).toContain('web | [background-tasks] sendWelcomeEmail: sent to the queue in')
    expect(stdout).not.toContain('TaskSendError')
  }, 150_000)
})
