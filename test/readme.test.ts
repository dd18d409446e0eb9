import { execFile } from 'node:child_process'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const dir = fileURLToPath(new URL('./.readme-snippets/', import.meta.url))

it('every TypeScript snippet in the README compiles against the library', async () => {
  const readme = await readFile(`${root}README.md`, 'utf8')
  const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string)
  expect(snippets.length).toBeGreaterThanOrEqual(8)
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  await Promise.all(
    snippets.map((code, i) => writeFile(`${dir}snippet-${i + 1}.ts`, code.includes('import') ? code : `${code}\nexport {}\n`)),
  )
  await writeFile(
    `${dir}tsconfig.json`,
    JSON.stringify({
      extends: '../../tsconfig.json',
      compilerOptions: {
        noUnusedLocals: false,
        paths: {
          'hono-background-tasks': ['../../src/index.ts'],
          'hono-background-tasks/testing': ['../../src/testing.ts'],
          'hono-background-tasks/node': ['../../src/node.ts'],
          'hono-background-tasks/queue': ['../../src/queue/index.ts'],
          'hono-background-tasks/otel': ['../../src/otel/index.ts'],
          'hono-background-tasks/bullmq': ['../../src/bullmq/index.ts'],
        },
      },
      include: ['*.ts'],
      exclude: [],
    }),
  )
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url))
  const result = await promisify(execFile)(process.execPath, [tsc, '-p', `${dir}tsconfig.json`]).catch((error) => error)
  expect(String(result.stdout ?? '') + String(result.stderr ?? '')).toBe('')
}, 60_000)
