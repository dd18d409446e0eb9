// Types `exports` from 'cloudflare:workers' for test/workerd/wrangler.toml (what `wrangler types` would generate).
declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import('./worker.ts')
  }
}
