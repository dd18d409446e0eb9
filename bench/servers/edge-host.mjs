// Runs the bundled service-worker script in edge-runtime (what Vercel Edge runs locally).
import { readFileSync } from 'node:fs'
import { EdgeRuntime, runServer } from 'edge-runtime'

const [scriptPath] = process.argv.slice(2)
const runtime = new EdgeRuntime({ initialCode: readFileSync(scriptPath, 'utf8') })
const server = await runServer({ runtime, port: 0, host: '127.0.0.1' })
console.log(JSON.stringify({ port: Number(new URL(server.url).port) }))
const stop = async () => {
  await server.close()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
