import { pathToFileURL } from 'node:url'

/** Whether the module `url` is the script node was started with. */
export const isMain = (url) => process.argv[1] !== undefined && url === pathToFileURL(process.argv[1]).href

/** A positive number from the environment, or `fallback`. */
export const envNumber = (name, fallback) => {
  const n = Number(process.env[name])
  return Number.isFinite(n) && n > 0 ? n : fallback
}

/** The runtimes named in the environment variable `name` (comma-separated), in `all`'s order; else `all`. */
export const runtimeList = (name, all) => {
  const wanted = process.env[name]?.split(',').map((s) => s.trim())
  if (!wanted?.length || !wanted[0]) return all
  const unknown = wanted.filter((w) => !all.includes(w))
  if (unknown.length) throw new Error(`${name}: unknown runtime ${unknown.join(', ')} (known: ${all.join(', ')})`)
  return all.filter((n) => wanted.includes(n))
}
