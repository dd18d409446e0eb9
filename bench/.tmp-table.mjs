import { build } from 'esbuild'
const r = await build({ entryPoints: ['/work/main/test/runtimes/matrix.ts'], bundle: true, format: 'esm', write: false, platform: 'node' })
const m = await import('data:text/javascript,' + encodeURIComponent(r.outputFiles[0].text))
console.log(m.supportTable())
