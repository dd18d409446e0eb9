import { registerExample } from './register-example.ts'

registerExample({
  readme: 'examples/node/README.md',
  command: 'node examples/node/start.mjs',
  spawn: [process.execPath, 'examples/node/start.mjs'],
  route: '/register',
  draining: /\[background-tasks\] SIGTERM: shutting down; refusing new requests, waiting for .* and 1 task \(deadline 8000 ms\)/,
  drained: /\[background-tasks\] SIGTERM: finished 1 task in \d+ ms; exiting with code 0/,
})
