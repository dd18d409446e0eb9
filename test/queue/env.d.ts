// Types `env` and `exports` from 'cloudflare:workers' for test/queue/wrangler.toml (what `wrangler types` would generate).
declare namespace Cloudflare {
  interface Env extends Readonly<import('./worker.ts').Env> {}
  interface GlobalProps {
    mainModule: typeof import('./worker.ts')
  }
}
