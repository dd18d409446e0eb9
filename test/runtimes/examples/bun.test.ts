import { registerExample } from './register-example.ts'

registerExample({
  readme: 'examples/bun/README.md',
  command: 'bun examples/bun/src/server.ts',
  spawn: ['node_modules/.bin/bun', 'examples/bun/src/server.ts'],
  route: '/register',
  draining: /SIGTERM: closing the server, waiting for 1 background task\(s\)/,
})
