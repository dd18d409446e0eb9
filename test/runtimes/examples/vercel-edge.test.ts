import { registerExample } from './register-example.ts'

registerExample({
  readme: 'examples/vercel-edge/README.md',
  command: 'node examples/vercel-edge/dev.mjs',
  spawn: [process.execPath, 'examples/vercel-edge/dev.mjs'],
  route: '/api/register',
  draining: /SIGTERM: closing the server, waiting for the work handed to waitUntil/,
  drained: /all background tasks finished/,
})
