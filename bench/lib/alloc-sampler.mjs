// Loaded with `node --import` into a benchmark server (bench/profile.mjs): the first SIGUSR2 starts V8's
// sampling heap profiler, counting objects that are already collected too (so it measures allocation,
// not what survives, which `--heap-prof` reports); the second stops it and writes the profile to
// BENCH_ALLOC_OUT, then prints a line.
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'

const session = new Session()
session.connect()
let sampling = false
process.on('SIGUSR2', async () => {
  sampling = !sampling
  if (sampling) {
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 64,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    })
    return
  }
  const { profile } = await session.post('HeapProfiler.stopSampling')
  writeFileSync(process.env.BENCH_ALLOC_OUT, JSON.stringify(profile))
  console.error('[alloc-sampler] written')
})
