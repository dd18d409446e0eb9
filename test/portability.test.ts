import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { convertV4MiniflareOptions, Miniflare } from 'miniflare'
import { afterAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('..', import.meta.url))

const bundle = async (entry: string, minify = false) => {
  const result = await build({
    absWorkingDir: root,
    stdin: { contents: entry, resolveDir: root, loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    minify,
    write: false,
  })
  return result.outputFiles[0]!.text
}

describe('the core entry stays portable', () => {
  it('bundles with no node: import and no Node global', async () => {
    const code = await bundle("export * from './src/index.ts'", true)
    expect(code).not.toMatch(/from\s*["']node:|require\(|import\(["']node:/)
    expect(code).not.toMatch(/\bprocess\.|\bBuffer\b|\bsetImmediate\b|\b__dirname\b/)
    // The tracing channel is looked up at run time, and OpenTelemetry lives behind its own subpath.
    expect(code.match(/node:[a-z_]+/g)).toEqual(['node:diagnostics_channel'])
    expect(code).toMatch(/globalThis\.process\?\.getBuiltinModule\?\.\(["']node:diagnostics_channel["']\)/)
    expect(code).not.toMatch(/@opentelemetry/)
  })

  it('the otel subpath needs nothing but @opentelemetry/api and the core', async () => {
    const result = await build({
      absWorkingDir: root,
      entryPoints: ['src/otel/index.ts'],
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      external: ['@opentelemetry/api'],
      write: false,
      metafile: true,
    })
    const imports = Object.values(result.metafile.outputs).flatMap((output) => output.imports.map((i) => i.path))
    expect([...new Set(imports)]).toEqual(['@opentelemetry/api'])
  })

  let mf: Miniflare | undefined
  afterAll(() => mf?.dispose())

  it('runs in workerd without nodejs_compat: hands a task to waitUntil that runs after the response', async () => {
    const worker = await bundle(`
      import { Hono } from 'hono'
      import { backgroundTasks } from './src/index.ts'
      const log = []
      const app = new Hono()
      app.use(backgroundTasks())
      app.post('/register', (c) => {
        c.var.tasks.add(async function sendWelcomeEmail(to) { log.push('sent to ' + to) }, 'ada@example.com')
        log.push('responded')
        return c.json({ ok: true }, 201)
      })
      app.get('/log', (c) => c.json(log))
      export default app
    `)
    mf = new Miniflare(
      convertV4MiniflareOptions({
        modules: true,
        script: worker,
        compatibilityDate: '2026-04-01',
        compatibilityFlags: [],
      }),
    )
    const res = await mf.dispatchFetch('http://localhost/register', { method: 'POST' })
    expect(res.status).toBe(201)
    expect(await res.json()).toEqual({ ok: true })
    let log: string[] = []
    while (log.length < 2) log = (await (await mf.dispatchFetch('http://localhost/log')).json()) as string[]
    expect(log).toEqual(['responded', 'sent to ada@example.com'])
  })
})
