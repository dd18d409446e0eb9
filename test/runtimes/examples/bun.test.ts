import { registerExample } from './register-example.ts'

registerExample({
  readme: 'examples/bun/README.md',
  command: 'bun examples/bun/src/server.ts',
  spawn: ['node_modules/.bin/bun', 'examples/bun/src/server.ts'],
  route: '/register',
  draining: /\[background-tasks\] SIGTERM: shutting down; refusing new requests, waiting for .* and 1 task \(deadline 8000 ms\)/,
  drained: /\[background-tasks\] SIGTERM: finished 1 task in \d+ ms; exiting with code 0/,
})
