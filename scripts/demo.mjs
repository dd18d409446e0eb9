// `npm run demo`: starts the Cloudflare example (examples/cloudflare) on local workerd with
// `wrangler dev`, registers users, and shows what the client got and when, next to when each
// background task started and finished in the Worker. Offline; takes about 10 s.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
// The welcome email is held back this long, as a slow email API would; the 201 must not wait for it.
const EMAIL_LATENCY_MS = 1000
const READY_TIMEOUT_MS = 20_000
const WORK_TIMEOUT_MS = 10_000

const dim = (text) => (process.stdout.isTTY ? `\x1b[2m${text}\x1b[22m` : text)
const bold = (text) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[22m` : text)
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal colour codes is the point.
const stripAnsi = (text) => text.replace(/\x1b\[[0-9;]*m/g, '')
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
/** `+   29 ms`: a time since the request was sent. */
const stamp = (ms) => `+${String(Math.round(ms)).padStart(5)} ms`

/** `count` distinct free ports: all held open at once, so the OS cannot hand out one twice. */
const freePorts = async (count) => {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise((resolve, reject) => {
          const server = createServer()
          server.once('error', reject)
          server.listen(0, '127.0.0.1', () => resolve(server))
        }),
    ),
  )
  const ports = servers.map((server) => server.address().port)
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
  return ports
}

/** `wrangler dev`, its output split into lines, and a way to wait for a line. */
const startWorker = async () => {
  const [port, inspectorPort] = await freePorts(2)
  // The node process itself, not an `npm run` wrapper, so that SIGINT reaches wrangler.
  const child = spawn(
    process.execPath,
    [
      '--no-warnings',
      join(root, 'node_modules/wrangler/wrangler-dist/cli.js'),
      'dev',
      '--ip=127.0.0.1',
      `--port=${port}`,
      `--inspector-port=${inspectorPort}`,
      '--show-interactive-dev-session=false',
      '--var',
      `SIMULATED_EMAIL_LATENCY_MS:${EMAIL_LATENCY_MS}`,
    ],
    {
      cwd: root,
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  const lines = []
  const waiters = new Set()
  let exited = false
  const exit = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true
      resolve({ code, signal })
      for (const waiter of waiters) waiter.check()
    }),
  )
  const onData = (buffered) => (chunk) => {
    buffered.text += chunk
    const parts = buffered.text.split('\n')
    buffered.text = parts.pop()
    for (const part of parts) {
      const line = { text: stripAnsi(part).trimEnd(), at: performance.now() }
      lines.push(line)
      for (const waiter of waiters) waiter.check()
    }
  }
  child.stdout.setEncoding('utf8').on('data', onData({ text: '' }))
  child.stderr.setEncoding('utf8').on('data', onData({ text: '' }))

  /** Resolves with the first line from index `from` on that matches, or rejects after `timeout` ms. */
  const waitForLine = (pattern, from, timeout) =>
    new Promise((resolve, reject) => {
      const waiter = {
        check: () => {
          const line = lines.slice(from).find((l) => pattern.test(l.text))
          if (line || exited) {
            waiters.delete(waiter)
            clearTimeout(timer)
            if (line) resolve(line)
            else reject(new Error(`wrangler dev exited while waiting for ${pattern}`))
          }
        },
      }
      const timer = setTimeout(() => {
        waiters.delete(waiter)
        reject(new Error(`no line matching ${pattern} within ${timeout} ms`))
      }, timeout)
      waiters.add(waiter)
      waiter.check()
    })

  const stop = async () => {
    if (exited) return exit
    child.kill('SIGINT')
    const forced = setTimeout(() => child.kill('SIGKILL'), 5_000)
    const result = await exit
    clearTimeout(forced)
    return result
  }
  return { port, lines, waitForLine, stop }
}

/**
 * The lines a person wants from the Worker's console: the example's onTaskStart (`[tasks] ...: started`),
 * the library's log (`[background-tasks] ...: success in 5 ms`), and onError (`[register] gave up ...`).
 */
const workerLine = (text) => {
  const line = text.replace(/^✘ \[ERROR\] /, '')
  if (line.startsWith('[tasks]') || line.startsWith('[background-tasks]') || line.startsWith('[register]')) return line
  return undefined
}

/** Decodes the RFC 2047 encoded-words the example writes into mail headers. */
const decodeHeader = (value) => value.replace(/=\?UTF-8\?B\?([^?]+)\?=/gi, (_, base64) => Buffer.from(base64, 'base64').toString('utf8'))

const emailSummary = (path) => {
  const head = readFileSync(path, 'utf8').split(/\r?\n\r?\n/)[0] ?? ''
  const header = (name) => decodeHeader(head.match(new RegExp(`^${name}: (.*)$`, 'mi'))?.[1] ?? '?')
  return `to ${header('To')}, "${header('Subject')}" (${relative(root, path)})`
}

/**
 * Sends one registration, waits until the Worker has printed a line matching each of `done` (or
 * for `quietMs`), and prints the response and those lines on one timeline from the moment it was sent.
 */
const registerAndWatch = async (worker, body, { done, quietMs }) => {
  const from = worker.lines.length
  const started = performance.now()
  console.log(`   POST /register ${JSON.stringify(body)}`)
  const res = await fetch(`http://127.0.0.1:${worker.port}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const headersAt = performance.now()
  const text = await res.text()
  const at = performance.now()
  const status = `${bold(`${res.status} ${res.statusText}`)} ${text}`
  const events = [{ at, line: `client: ${status}   <- the whole answer (status at +${Math.round(headersAt - started)} ms)` }]

  if (done) await Promise.all(done.map((pattern) => worker.waitForLine(pattern, from, WORK_TIMEOUT_MS)))
  else await sleep(quietMs)
  for (const { text: raw, at } of worker.lines.slice(from)) {
    const line = workerLine(raw)
    if (line) events.push({ at, line: `Worker: ${line}` })
    const email = raw.match(/^Email: (.+\.eml)$/)
    if (email) events.push({ at, line: `Worker: send_email saved it: ${emailSummary(email[1])}` })
  }
  if (events.length === 1) events.push({ at: performance.now(), line: 'Worker: (no background task ran)' })
  // Sorted, not printed as they come: a quick task can start, even finish, before the client has read the body.
  for (const { at, line } of events.sort((a, b) => a.at - b.at)) console.log(`   ${dim(stamp(at - started))}  ${line}`)
  return { res, text }
}

const getAudit = async (worker, id) => {
  const res = await fetch(`http://127.0.0.1:${worker.port}/audit/${id}`)
  return `${res.status} ${await res.text()}`
}

const main = async () => {
  console.log(bold('hono-background-tasks: the Cloudflare example on local workerd\n'))
  const startedAt = performance.now()
  process.stdout.write('Starting `wrangler dev` (examples/cloudflare, root wrangler.toml) ... ')
  const worker = await startWorker()
  const stopOnSignal = () => worker.stop().then(() => process.exit(130))
  process.once('SIGINT', stopOnSignal)
  try {
    try {
      await worker.waitForLine(/Ready on http/, 0, READY_TIMEOUT_MS)
    } catch (error) {
      console.log('failed.\n')
      for (const { text } of worker.lines) console.log(`  ${text}`)
      throw error
    }
    // The first request compiles the Worker; keep that out of the timings below.
    await fetch(`http://127.0.0.1:${worker.port}/audit/warm-up`).then((res) => res.body?.cancel())
    console.log(`ready in ${((performance.now() - startedAt) / 1000).toFixed(1)} s on http://127.0.0.1:${worker.port}`)
    console.log(
      dim(
        [
          'How to read the times: "+N ms" counts from the moment the demo sent the request.',
          '  client: the demo had read the whole response, status and body (when its status came is in brackets).',
          "  Worker: wrangler printed this line of the Worker's console, a few ms after the Worker wrote it (lines",
          '          printed together share a time): `[tasks] X: started` when an attempt of a background task began,',
          '          `[background-tasks] X: success in N ms` (or error) when it ended, N measured in the Worker.',
          '  A task starts once the Worker has handed the body over, so a quick one can start, even finish,',
          '  before the client has read that body: the client never waits for it.\n',
        ].join('\n'),
      ),
    )

    console.log(bold(`1. A registration. The email API is made to take ${EMAIL_LATENCY_MS} ms; the client does not wait for it.`))
    const ada = await registerAndWatch(
      worker,
      { email: 'ada@example.com', name: 'Ada Lovelace' },
      { done: [/sendWelcomeEmail.*: success/, /^Email: /] },
    )
    const adaId = JSON.parse(ada.text).id
    console.log(`   GET /audit/${adaId}\n     -> ${await getAudit(worker, adaId)}\n`)

    console.log(bold('2. An address the send_email binding refuses (not in allowed_destination_addresses): retries, then onError.'))
    const mallory = await registerAndWatch(worker, { email: 'mallory@example.org', name: 'Mallory' }, { done: [/\[register\] gave up on/] })
    const malloryId = JSON.parse(mallory.text).id
    console.log(`   GET /audit/${malloryId}\n     -> ${await getAudit(worker, malloryId)}`)
    console.log('   The registration is on record; welcomeEmail stays null.\n')

    console.log(bold('3. Bad input: 400 at once, and no background task.'))
    await registerAndWatch(worker, { email: 'not-an-email', name: 'Nobody' }, { quietMs: 300 })
    console.log()
  } finally {
    process.removeListener('SIGINT', stopOnSignal)
    process.stdout.write('Stopping `wrangler dev` ... ')
    await worker.stop()
    console.log('stopped.')
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`\ndemo failed: ${error instanceof Error ? error.message : error}`)
    process.exit(1)
  },
)
