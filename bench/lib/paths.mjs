import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root, whatever the working directory. */
export const root = fileURLToPath(new URL('../../', import.meta.url))
export const benchDir = path.join(root, 'bench')
/** Build output and profiles; ignored by git. */
export const cacheDir = path.join(benchDir, '.cache')
mkdirSync(cacheDir, { recursive: true })
