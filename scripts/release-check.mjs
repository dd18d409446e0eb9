// `npm run release:check` (after `npm run build`): is what `npm publish` and `deno publish` would
// upload right? Each check prints one line; a failing one prints what its tool said, and the script
// exits with 1 once all have run. Offline except for the npm registry (the CommonJS consumer's
// hono and typescript, from the npm cache when they are there).
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = (name) => join(root, 'node_modules/.bin', name)
const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'))
const jsr = JSON.parse(await readFile(join(root, 'jsr.json'), 'utf8'))

/** Runs a command in the repository; resolves with its exit code and everything it printed. */
const run = (file, args, env = {}) =>
  promisify(execFile)(file, args, { cwd: root, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, output: stdout + stderr }),
    (error) => ({
      code: typeof error.code === 'number' ? error.code : 1,
      stdout: error.stdout ?? '',
      output: `${error.stdout ?? ''}${error.stderr ?? error.message}`,
    }),
  )

class CheckFailed extends Error {}
const failures = []

/** Runs one check: `fn` returns the line to print, or throws CheckFailed with what went wrong. */
const check = async (name, fn) => {
  try {
    console.log(`  ok    ${name}: ${await fn()}`)
  } catch (error) {
    failures.push(name)
    const detail = error instanceof CheckFailed ? error.message : (error?.stack ?? String(error))
    console.log(`  FAIL  ${name}\n${detail.replace(/^/gm, '        ')}`)
  }
}

const repository = pkg.repository?.url?.replace(/^git\+/, '').replace(/\.git$/, '')
if (!repository?.startsWith('https://github.com/')) {
  console.error('release:check: package.json needs repository.url on https://github.com/')
  process.exit(1)
}

console.log(`release:check: ${pkg.name}@${pkg.version}`)

await check('publint --strict', async () => {
  const { code, output } = await run(bin('publint'), ['--strict'])
  if (code !== 0 || !output.includes('All good!')) throw new CheckFailed(output.trim())
  return 'all good'
})

await check('attw --pack --profile esm-only', async () => {
  const { code, output } = await run(bin('attw'), ['--pack', '--profile', 'esm-only', '--format', 'table-flipped', '.'])
  if (code !== 0) throw new CheckFailed(output.trim())
  return 'no problems from ESM (node16) and bundlers; require() is checked by the CommonJS consumer below'
})

/** The files `npm pack` puts in the tarball, with its size. */
const packed = async () => {
  const { code, stdout, output } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    npm_config_update_notifier: 'false',
  })
  if (code !== 0) throw new CheckFailed(output.trim())
  const [{ files, size }] = JSON.parse(stdout)
  return { paths: files.map((file) => file.path), size }
}

await check('npm pack --dry-run', async () => {
  const { paths, size } = await packed()
  const always = ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md']
  const stray = paths.filter((path) => !always.includes(path) && !path.startsWith('dist/'))
  const targets = Object.values(pkg.exports)
    .flatMap((target) => (typeof target === 'string' ? [target] : Object.values(target)))
    .map((target) => target.replace(/^\.\//, ''))
  const missing = [...always, ...targets].filter((path) => !paths.includes(path))
  if (stray.length > 0 || missing.length > 0) {
    const lines = [
      ...stray.map((path) => `${path}: not dist/, README.md, LICENSE or CHANGELOG.md (see "files" in package.json)`),
      ...missing.map((path) => `${path}: missing${path.startsWith('dist/') ? ' (run `npm run build` first)' : ''}`),
    ]
    throw new CheckFailed(lines.join('\n'))
  }
  const dist = paths.filter((path) => path.startsWith('dist/')).length
  return `${paths.length} files, ${(size / 1000).toFixed(1)} kB: ${always.join(', ')} and ${dist} in dist/`
})

/** GitHub's id for a heading: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading) =>
  heading
    .replace(/`/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')

await check('README links (npm shows only what is in the tarball)', async () => {
  const readme = await readFile(join(root, 'README.md'), 'utf8')
  const prose = readme.replace(/^```[\s\S]*?^```/gm, '')
  const anchors = new Set()
  for (const [, heading] of prose.matchAll(/^#{1,6} (.+)$/gm)) {
    let id = slug(heading)
    for (let n = 1; anchors.has(id); n++) id = `${slug(heading)}-${n}`
    anchors.add(id)
  }
  const tracked = (await run('git', ['ls-files'])).stdout.split('\n').filter(Boolean)
  const dirs = new Set(
    tracked.flatMap((file) =>
      file
        .split('/')
        .slice(0, -1)
        .map((_, i, parts) => parts.slice(0, i + 1).join('/')),
    ),
  )
  const files = new Set(tracked)
  const prefix = `${repository}/`
  const problems = []
  let inRepo = 0
  let local = 0
  for (const [, target] of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    if (target.startsWith('#')) {
      local++
      if (!anchors.has(target.slice(1))) problems.push(`${target}: no heading with this id`)
    } else if (target.startsWith(prefix)) {
      inRepo++
      const [, kind, path] = target.slice(prefix.length).match(/^(blob|tree)\/main\/([^#?]+)/) ?? []
      if (kind === 'blob' && !files.has(path)) problems.push(`${target}: ${path} is not a file in the repository`)
      else if (kind === 'tree' && !dirs.has(path)) problems.push(`${target}: ${path} is not a folder in the repository`)
      else if (!kind && !/^(issues|pulls|releases)?(\/.*)?$/.test(target.slice(prefix.length)))
        problems.push(`${target}: not a blob/main or tree/main link`)
    } else if (!/^https?:\/\//.test(target) && !target.startsWith('mailto:')) {
      problems.push(`${target}: a relative link is dead on npm; use ${prefix}blob/main/${target} (or tree/ for a folder)`)
    }
  }
  if (problems.length > 0) throw new CheckFailed(problems.join('\n'))
  return `${inRepo} links into ${repository} point at tracked files, ${local} anchors match headings, no relative link`
})

await check('jsr.json + deno publish --dry-run', async () => {
  const problems = []
  if (jsr.version !== pkg.version) problems.push(`jsr.json version ${jsr.version} is not package.json's ${pkg.version}`)
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (subpath === './package.json') continue
    const source = (typeof target === 'string' ? target : target.default).replace(/^\.\/dist\//, './src/').replace(/\.js$/, '.ts')
    if (jsr.exports?.[subpath] !== source)
      problems.push(`jsr.json exports["${subpath}"] should be ${source}, as package.json's ${subpath} is built from it`)
  }
  for (const subpath of Object.keys(jsr.exports ?? {})) {
    if (!(subpath in pkg.exports)) problems.push(`jsr.json exports["${subpath}"] is not in package.json's exports`)
  }
  if (problems.length > 0) throw new CheckFailed(problems.join('\n'))
  // Type-checks every entry point with Deno and checks the public API for slow types; hono comes
  // from node_modules, so nothing is downloaded.
  const { code, output } = await run(bin('deno'), ['publish', '--dry-run', '--allow-dirty', '--config', 'jsr.json'], {
    DENO_NO_UPDATE_CHECK: '1',
    NO_COLOR: '1',
  })
  if (code !== 0 || !output.includes('Dry run complete')) throw new CheckFailed(output.trim())
  const published = output.split('\n').filter((line) => line.trim().startsWith('file://')).length
  return `${jsr.name}@${jsr.version}, ${Object.keys(jsr.exports).length} entry points type-checked, no slow types, ${published} files`
})

await check('CommonJS consumer', async () => {
  const { code, output } = await run(process.execPath, [join(root, 'scripts/check-cjs-consumer.mjs')])
  if (code !== 0) throw new CheckFailed(output.trim())
  return output
    .trim()
    .replace(/^CommonJS consumer OK /, '')
    .replace(/:?\n\s*/g, '; ')
})

if (failures.length > 0) {
  console.log(`release:check: ${failures.length} failed: ${failures.join(', ')}`)
  process.exit(1)
}
console.log('release:check: all passed')
