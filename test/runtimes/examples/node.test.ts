import { registerExample } from './register-example.ts'

registerExample({
  readme: 'examples/node/README.md',
  command: 'node examples/node/start.mjs',
  spawn: [process.execPath, 'examples/node/start.mjs'],
  route: '/register',
  draining: /SIGTERM: closing the server, waiting for 1 background task\(s\)/,
})
