/** The runtime app as a Worker module, for `wrangler dev -c test/runtimes/servers/wrangler.toml`. */
import { createRuntimeApp } from './app.ts'

export default createRuntimeApp()
