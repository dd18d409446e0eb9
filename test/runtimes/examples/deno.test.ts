import { registerExample } from './register-example.ts'

registerExample({
  readme: 'examples/deno/README.md',
  command: 'deno run --allow-net --allow-env examples/deno/src/server.ts',
  spawn: ['node_modules/.bin/deno', 'run', '--allow-net', '--allow-env', 'examples/deno/src/server.ts'],
  route: '/register',
  draining: /SIGTERM: closing the server, waiting for 1 background task\(s\)/,
  env: { DENO_NO_UPDATE_CHECK: '1' },
})
