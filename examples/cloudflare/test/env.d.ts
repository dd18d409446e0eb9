// Types `env` and `exports` from 'cloudflare:workers' for the root wrangler.toml (what `wrangler types` would generate).
declare namespace Cloudflare {
  interface Env extends Readonly<import('../src/tasks.ts').Env> {}
  interface GlobalProps {
    mainModule: typeof import('../src/index.ts')
  }
}
