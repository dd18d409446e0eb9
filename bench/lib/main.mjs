import { pathToFileURL } from 'node:url'

/** Whether the module `url` is the script node was started with. */
export const isMain = (url) => process.argv[1] !== undefined && url === pathToFileURL(process.argv[1]).href

/** A positive number from the environment, or `fallback`. */
export const envNumber = (name, fallback) => {
  const n = Number(process.env[name])
  return Number.isFinite(n) && n > 0 ? n : fallback
}
