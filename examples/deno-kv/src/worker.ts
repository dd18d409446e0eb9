import { denoKvWorker } from '../../../src/deno-kv/index.ts'
import { type DenoApi, kvPath } from './deno.ts'
import { tasks } from './tasks.ts'

declare const Deno: DenoApi

// The worker process: runs the messages the web process enqueued, by task name. Opening the store
// delivers what is waiting; on a local file, messages another process enqueues later reach it at
// Deno's next poll, within about a minute (on Deno Deploy, at once).
const path = kvPath(Deno.env)
const worker = denoKvWorker({ kv: await Deno.openKv(path), tasks })
console.log(`worker: waiting for messages in ${path} (pid ${Deno.pid})`)

// SIGTERM: take no new messages (one delivered now goes back on the queue), give the running tasks
// 8 s, name what did not finish, close the store, exit. Deno KV delivers an unfinished one again.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  Deno.addSignalListener(signal, async () => {
    console.log(`worker: ${signal}: stopping; waiting up to 8 s for the running tasks`)
    // Later calls (a second signal) get the same result.
    const { finished, unfinished } = await worker.stop({ timeout: 8_000 })
    const left = unfinished.length > 0 ? `; not finished, delivered again by Deno KV: ${unfinished.join(', ')}` : ''
    console.log(
      `worker: ${signal}: finished ${finished.length} task${finished.length === 1 ? '' : 's'}${left}; exiting with code ${unfinished.length > 0 ? 1 : 0}`,
    )
    Deno.exit(unfinished.length > 0 ? 1 : 0)
  })
}
