import { execFile } from 'node:child_process'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))
const dir = fileURLToPath(new URL('./.readme-snippets/', import.meta.url))

/** The Markdown files whose snippets must compile: the README and every docs/*.md. */
const sources = async (): Promise<string[]> => {
  const docs = (await readdir(`${root}docs`)).filter((name) => name.endsWith('.md')).sort()
  return ['README.md', ...docs.map((name) => `docs/${name}`)]
}

/** `docs/durable.md`, snippet 2 -> `docs-durable-2.ts`: a compile error names the doc it is in. */
const fileName = (source: string, n: number): string => `${source.replace(/\.md$/, '').replace(/\//g, '-')}-${n}.ts`

it('every TypeScript snippet in the README and in docs/*.md compiles against the library', async () => {
  const snippets: { file: string; code: string }[] = []
  const counts: Record<string, number> = {}
  for (const source of await sources()) {
    const markdown = await readFile(`${root}${source}`, 'utf8')
    const found = [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string)
    counts[source] = found.length
    snippets.push(...found.map((code, i) => ({ file: fileName(source, i + 1), code })))
  }
  // The README keeps a snippet per usage scenario; the docs hold the longer ones.
  expect(counts['README.md']).toBeGreaterThanOrEqual(8)
  expect(snippets.length).toBeGreaterThanOrEqual(20)
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  await Promise.all(snippets.map(({ file, code }) => writeFile(`${dir}${file}`, code.includes('import') ? code : `${code}\nexport {}\n`)))
  // The Deno KV snippets run on Deno: the little of its namespace they use, typed as Deno types it.
  await writeFile(
    `${dir}deno.d.ts`,
    [
      'declare namespace Deno {',
      "  function openKv(path?: string): Promise<import('../../src/deno-kv/kv.ts').KvLike>",
      '  function serve(options: { port?: number }, handler: (request: Request) => Response | Promise<Response>): { shutdown(): Promise<void> }',
      "  function addSignalListener(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void",
      '  function exit(code?: number): never',
      '}',
    ].join('\n'),
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
          'hono-background-tasks/shutdown': ['../../src/shutdown/index.ts'],
          'hono-background-tasks/durable': ['../../src/durable/index.ts'],
          'hono-background-tasks/cloudflare': ['../../src/cloudflare/index.ts'],
          'hono-background-tasks/otel': ['../../src/otel/index.ts'],
          'hono-background-tasks/bullmq': ['../../src/bullmq/index.ts'],
          'hono-background-tasks/pg-boss': ['../../src/pg-boss/index.ts'],
          'hono-background-tasks/deno-kv': ['../../src/deno-kv/index.ts'],
          // The 0.1 names, kept as aliases.
          'hono-background-tasks/node': ['../../src/node.ts'],
          'hono-background-tasks/queue': ['../../src/queue/index.ts'],
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

/** Every .ts file under `dir`, relative to the root. */
const tsFiles = async (dir: string): Promise<string[]> =>
  (await readdir(`${root}${dir}`, { recursive: true })).filter((file) => file.endsWith('.ts')).map((file) => join(dir, file))

it('every citation of docs/design.md in src/ and test/ names one of its sections', async () => {
  const design = await readFile(`${root}docs/design.md`, 'utf8')
  const sections = new Set([...design.matchAll(/^#{2,3} (.+)$/gm)].map((m) => m[1] as string))
  const cited: string[] = []
  const files = [...(await tsFiles('src')), ...(await tsFiles('test'))].filter((file) => file !== 'test/readme.test.ts')
  for (const file of files) {
    const source = await readFile(`${root}${file}`, 'utf8')
    // `[design: Order]` or `[design: Order, Nested work]` in test titles, `docs/design.md, "Order"` in comments
    // (a quote may wrap onto the next comment line).
    for (const m of source.matchAll(/\[design: ([^\]]+)\]|design\.md, "([^"]+)"/g)) {
      const names = m[1] ? m[1].split(', ') : [(m[2] ?? '').replace(/\s*\n\s*(?:\*|\/\/)?\s*/g, ' ')]
      for (const name of names) cited.push(`${file}: ${name}`)
    }
  }
  expect(cited.length).toBeGreaterThan(0)
  expect(cited.filter((citation) => !sections.has(citation.slice(citation.indexOf(': ') + 2)))).toEqual([])
})
