// A CommonJS consumer of the packed package: a new project outside the repository (`npm init -y`,
// CommonJS), the tarball from `npm pack` plus hono and typescript from the npm cache or registry,
// TypeScript `module: nodenext`. It type-checks the README's quick-start app and runs it with
// `require()`, which loads ES modules on Node 20.19+ and 22.12+. Needs `npm run build` first; about 10 s.
//
//   node scripts/check-cjs-consumer.mjs [--keep] [--typescript=5.9.3]
//   (--keep leaves the project for a look; --typescript picks another TypeScript than the repository's)
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const root = fileURLToPath(new URL('..', import.meta.url))
const keep = process.argv.includes('--keep')
const run = promisify(execFile)

class Failure extends Error {}
/** Stops the check; the temporary project is still removed. */
const fail = (message) => {
  throw new Failure(message)
}

const exit = (message) => {
  console.error(`check-cjs-consumer: ${message}`)
  process.exit(1)
}
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 20 || (major === 20 && minor < 19) || (major === 22 && minor < 12) || major === 21) {
  exit(`require() of ES modules needs Node 20.19+ or 22.12+; this is ${process.version}`)
}
if (!existsSync(join(root, 'dist/index.js'))) exit('dist/ is missing: run `npm run build` first')

const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'))
const typescript =
  process.argv.find((arg) => arg.startsWith('--typescript='))?.slice('--typescript='.length) ?? pkg.devDependencies.typescript
const readme = await readFile(join(root, 'README.md'), 'utf8')
// The first ts snippet under "## Quick start", verbatim.
const quickStart = readme.split(/^## Quick start$/m)[1]?.match(/```ts\n([\s\S]*?)```/)?.[1]
if (!quickStart) exit('README.md has no ```ts snippet under "## Quick start"')

/** Runs a command; on failure, fails the check with what it printed. */
const sh = async (file, args, cwd) => {
  try {
    return await run(file, args, { cwd, env: { ...process.env, npm_config_update_notifier: 'false' }, maxBuffer: 16 * 1024 * 1024 })
  } catch (error) {
    fail(`\`${[file, ...args].join(' ')}\` failed in ${cwd}:\n${error.stdout ?? ''}${error.stderr ?? error.message}`)
  }
}

const started = performance.now()
const dir = await mkdtemp(join(tmpdir(), 'hono-background-tasks-cjs-'))
try {
  // --ignore-scripts: the tarball is what `npm run build` left in dist/, as release:check checks it.
  const { stdout: packed } = await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], root)
  const tarball = join(dir, JSON.parse(packed)[0].filename)

  const app = join(dir, 'app')
  await mkdir(join(app, 'src'), { recursive: true })
  await sh('npm', ['init', '-y'], app)
  const { type } = JSON.parse(await readFile(join(app, 'package.json'), 'utf8'))
  if (type !== undefined && type !== 'commonjs') fail(`\`npm init -y\` made a project of type ${type}, expected CommonJS`)
  await sh(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, `hono@${pkg.devDependencies.hono}`, `typescript@${typescript}`],
    app,
  )

  await writeFile(
    join(app, 'tsconfig.json'),
    JSON.stringify(
      {
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          lib: ['es2022', 'dom'],
          types: [],
          strict: true,
          outDir: 'dist',
          rootDir: 'src',
        },
        include: ['src'],
      },
      null,
      2,
    ),
  )
  await writeFile(join(app, 'src/app.ts'), quickStart)
  // Runs the quick-start app: the email API is a stub that records the call.
  await writeFile(
    join(app, 'src/main.ts'),
    `import { settled } from 'hono-background-tasks/testing'
import app from './app'

const sent: string[] = []
globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
  sent.push(\`\${String(input)} \${String(init?.body)}\`)
  return new Response(null, { status: 202 })
}) as typeof fetch

const main = async () => {
  const res = await app.request('/register', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'ada@example.com', name: 'Ada' }),
  })
  const body = await res.text()
  if (res.status !== 201) throw new Error(\`expected 201, got \${res.status} \${body}\`)
  await settled(res)
  const expected = 'https://mail.example.com/send {"to":"ada@example.com","name":"Ada"}'
  if (sent.join('\\n') !== expected) throw new Error(\`expected one email call, got \${JSON.stringify(sent)}\`)
  console.log(\`201 \${body}; then, after the response: \${sent[0]}\`)
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
`,
  )
  // Plain JavaScript, no TypeScript in between.
  await writeFile(
    join(app, 'plain.cjs'),
    `const { backgroundTasks, task } = require('hono-background-tasks')
const { queueConsumer } = require('hono-background-tasks/cloudflare')
const { gracefulShutdown } = require('hono-background-tasks/shutdown')
const { defineTask } = require('hono-background-tasks/durable')
// The 0.1 names, kept as aliases.
if (require('hono-background-tasks/queue').queueConsumer !== queueConsumer) throw new Error('the /queue alias does not re-export /cloudflare')
if (require('hono-background-tasks/node').gracefulShutdown !== gracefulShutdown) throw new Error('the /node alias does not re-export /shutdown')
const { settled } = require('hono-background-tasks/testing')
// pg-boss is an optional peer, not installed here: its subpath must load without it.
const { pgBossQueue } = require('hono-background-tasks/pg-boss')
const { denoKvQueue } = require('hono-background-tasks/deno-kv')
for (const fn of [backgroundTasks, task, queueConsumer, gracefulShutdown, defineTask, settled, pgBossQueue, denoKvQueue]) {
  if (typeof fn !== 'function') throw new Error('require() did not return the exports')
}
console.log('require() loads every entry point it names (/pg-boss without pg-boss installed), and the 0.1 aliases')
`,
  )
  // main.ts uses process: declare it rather than install @types/node.
  await writeFile(join(app, 'src/process.d.ts'), 'declare const process: { exitCode?: number }\n')

  const tsc = await sh(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', app], app)
  if (tsc.stdout || tsc.stderr) fail(`tsc reported:\n${tsc.stdout}${tsc.stderr}`)
  const compiled = await readFile(join(app, 'dist/app.js'), 'utf8')
  if (!compiled.includes('require("hono-background-tasks")')) fail('dist/app.js does not load the package with require()')

  const lines = []
  for (const script of ['dist/main.js', 'plain.cjs']) {
    const { stdout, stderr } = await sh(process.execPath, [script], app)
    if (stderr) fail(`node ${script} wrote to stderr:\n${stderr}`)
    lines.push(`  node ${script}: ${stdout.trim()}`)
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  console.log(
    `CommonJS consumer OK on Node ${process.versions.node} (npm init -y, TypeScript ${typescript} module nodenext, ${seconds} s):`,
  )
  console.log(lines.join('\n'))
} catch (error) {
  console.error(`check-cjs-consumer: ${error instanceof Failure ? error.message : (error?.stack ?? error)}`)
  process.exitCode = 1
} finally {
  if (keep) console.log(`kept ${dir}`)
  else await rm(dir, { recursive: true, force: true })
}
