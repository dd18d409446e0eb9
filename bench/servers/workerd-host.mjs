// Runs the bundled Worker in workerd through miniflare and prints the port workerd listens on.
import { convertV4MiniflareOptions, Miniflare } from 'miniflare'

const [scriptPath] = process.argv.slice(2)
const mf = new Miniflare(
  convertV4MiniflareOptions({
    modules: true,
    scriptPath,
    compatibilityDate: '2026-04-01',
    host: '127.0.0.1',
    port: 0,
  }),
)
const url = await mf.ready
console.log(JSON.stringify({ port: Number(url.port) }))
const stop = async () => {
  await mf.dispose()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
