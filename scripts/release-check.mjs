// `npm run release:check` (after `npm run build`): is what `npm publish` and `deno publish` would
// upload right? Each check prints one line; a failing one prints what its tool said, and the script
// exits with 1 once all have run. Offline except for the npm registry (the CommonJS consumer's
// hono and typescript, from the npm cache when they are there). `--links` runs only the checks of
// the links in README.md and docs/*.md, which need no build.
import { execFile } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join, posix } from 'node:path'
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

const linksOnly = process.argv.includes('--links')

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

/** A check of the built package, skipped with `--links`. */
const checkBuild = (name, fn) => (linksOnly ? undefined : check(name, fn))

const repository = pkg.repository?.url?.replace(/^git\+/, '').replace(/\.git$/, '')
if (!repository?.startsWith('https://github.com/')) {
  console.error('release:check: package.json needs repository.url on https://github.com/')
  process.exit(1)
}

console.log(`release:check: ${pkg.name}@${pkg.version}${linksOnly ? ', links only' : ''}`)

await checkBuild('publint --strict', async () => {
  const { code, output } = await run(bin('publint'), ['--strict'])
  if (code !== 0 || !output.includes('All good!')) throw new CheckFailed(output.trim())
  return 'all good'
})

await checkBuild('attw --pack --profile esm-only', async () => {
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

await checkBuild('npm pack --dry-run', async () => {
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

/** A Markdown file's text without its fenced code blocks, where `[a](b)` is not a link. */
const proseOf = (markdown) => markdown.replace(/^```[\s\S]*?^```/gm, '')

/** The ids of a Markdown file's headings, as GitHub makes them (a repeated heading gets `-1`, `-2`, ...). */
const anchorsOf = (markdown) => {
  const anchors = new Set()
  for (const [, heading] of proseOf(markdown).matchAll(/^#{1,6} (.+)$/gm)) {
    let id = slug(heading)
    for (let n = 1; anchors.has(id); n++) id = `${slug(heading)}-${n}`
    anchors.add(id)
  }
  return anchors
}

/** The link targets of a Markdown file, code blocks left out. */
const linksOf = (markdown) => [...proseOf(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map(([, target]) => target)

/** The files and folders in the repository (tracked by git), and the heading ids of its Markdown files. */
const repositoryFiles = async () => {
  const tracked = (await run('git', ['ls-files'])).stdout.split('\n').filter(Boolean)
  const dirs = new Set(
    tracked.flatMap((file) =>
      file
        .split('/')
        .slice(0, -1)
        .map((_, i, parts) => parts.slice(0, i + 1).join('/')),
    ),
  )
  const headings = new Map()
  const anchorsIn = async (path) => {
    if (!headings.has(path)) headings.set(path, anchorsOf(await readFile(join(root, path), 'utf8').catch(() => '')))
    return headings.get(path)
  }
  return { files: new Set(tracked), dirs, anchorsIn }
}

/** What is wrong with a link to `path` (a file or folder of the repository) and `anchor` in it, if anything. */
const targetProblem = async (repo, target, path, anchor, kind = 'any') => {
  const isFile = repo.files.has(path)
  const isDir = repo.dirs.has(path)
  if (kind === 'blob' && !isFile) return `${target}: ${path} is not a file in the repository`
  if (kind === 'tree' && !isDir) return `${target}: ${path} is not a folder in the repository`
  if (!isFile && !isDir) return `${target}: ${path} is not a file or folder in the repository`
  if (anchor && isFile && path.endsWith('.md') && !(await repo.anchorsIn(path)).has(anchor))
    return `${target}: ${path} has no heading with the id #${anchor}`
  return undefined
}

const prefix = `${repository}/`

/**
 * Checks the links of the Markdown file at `path` (relative to the root). Links into the repository
 * on GitHub must name a tracked file (blob/main) or folder (tree/main), and a heading there if they
 * have an anchor. `relative: false` refuses relative links (the README: npm shows only the tarball);
 * otherwise each must resolve, from the file's folder, to a tracked file or folder, anchor included.
 */
const checkLinks = async (repo, path, { relative }) => {
  const markdown = await readFile(join(root, path), 'utf8')
  const own = anchorsOf(markdown)
  const problems = []
  const counts = { inRepo: 0, local: 0, relative: 0 }
  for (const target of linksOf(markdown)) {
    if (target.startsWith('#')) {
      counts.local++
      if (!own.has(target.slice(1))) problems.push(`${target}: no heading with this id`)
    } else if (target.startsWith(prefix)) {
      counts.inRepo++
      const [, kind, linked, anchor] = target.slice(prefix.length).match(/^(blob|tree)\/main\/([^#?]+)(?:#(.*))?/) ?? []
      if (kind) problems.push(await targetProblem(repo, target, linked, anchor, kind))
      else if (!/^(issues|pulls|releases)?(\/.*)?$/.test(target.slice(prefix.length)))
        problems.push(`${target}: not a blob/main or tree/main link`)
    } else if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
      // Another site, or mailto:.
    } else if (!relative) {
      problems.push(`${target}: a relative link is dead on npm; use ${prefix}blob/main/${target} (or tree/ for a folder)`)
    } else {
      counts.relative++
      const [file, anchor] = target.split('#')
      const resolved = posix.normalize(posix.join(posix.dirname(path), decodeURIComponent(file))).replace(/\/$/, '')
      if (resolved.startsWith('..')) problems.push(`${target}: leaves the repository`)
      else problems.push(await targetProblem(repo, target, resolved, anchor))
    }
  }
  return { problems: problems.filter(Boolean).map((problem) => `${path}: ${problem}`), ...counts }
}

const linkChecks = async () => {
  const repo = await repositoryFiles()

  await check('README links (npm shows only what is in the tarball)', async () => {
    const { problems, inRepo, local } = await checkLinks(repo, 'README.md', { relative: false })
    if (problems.length > 0) throw new CheckFailed(problems.join('\n'))
    return `${inRepo} links into ${repository} point at tracked files and their headings, ${local} anchors match headings, no relative link`
  })

  await check('docs/*.md links', async () => {
    const docs = [...repo.files].filter((file) => /^docs\/[^/]+\.md$/.test(file))
    const untracked = (await readdir(join(root, 'docs')).catch(() => []))
      .map((name) => `docs/${name}`)
      .filter((file) => file.endsWith('.md') && !repo.files.has(file))
    const problems = untracked.map((file) => `${file}: not tracked by git, so not on GitHub`)
    let relative = 0
    for (const doc of docs) {
      const result = await checkLinks(repo, doc, { relative: true })
      problems.push(...result.problems)
      relative += result.relative + result.local
    }
    if (problems.length > 0) throw new CheckFailed(problems.join('\n'))
    return `${docs.length} files, ${relative} relative links and anchors resolve to tracked files and their headings`
  })
}

await linkChecks()

await checkBuild('jsr.json + deno publish --dry-run', async () => {
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

await checkBuild('CommonJS consumer', async () => {
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
