// Small statistics and formatting helpers.

/** The q-quantile (0..1) of an ascending array, linear interpolation. */
export const percentile = (sorted, q) => {
  if (sorted.length === 0) return Number.NaN
  const i = (sorted.length - 1) * q
  const lo = Math.floor(i)
  const hi = Math.ceil(i)
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (i - lo)
}

export const median = (values) =>
  percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  )

export const min = (values) => Math.min(...values)
export const max = (values) => Math.max(...values)

/** `[a, b, c, d]` rotated by `n`: round n starts with a different item, so no one always goes first. */
export const rotate = (items, n) => items.map((_, i) => items[(i + n) % items.length])

export const fmt = {
  int: (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a'),
  ms: (n, digits = 2) => (Number.isFinite(n) ? `${n.toFixed(digits)} ms` : 'n/a'),
  ratio: (n) => (Number.isFinite(n) ? n.toFixed(3) : 'n/a'),
  range: (values, digits = 3) => (values.length ? `${min(values).toFixed(digits)}-${max(values).toFixed(digits)}` : 'n/a'),
  bytes: (n) => `${Math.round(n).toLocaleString('en-US')} B`,
  mib: (n) => (Number.isFinite(n) ? `${(n / 1024 / 1024).toFixed(1)} MiB` : 'n/a'),
  signedMib: (n) => (Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${(n / 1024 / 1024).toFixed(2)} MiB` : 'n/a'),
  us: (n) => (Number.isFinite(n) ? `${n.toFixed(2)} µs` : 'n/a'),
  signedUs: (n) => (Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${n.toFixed(2)} µs` : 'n/a'),
  pass: (ok) => (ok ? 'yes' : '**NO**'),
}

/**
 * A target on the median of per-round ratios, judged against the run's A/A noise: met when the
 * median moved against it by the noise still reaches `wanted`, missed when moved in its favour it
 * does not, otherwise inconclusive.
 */
export const noiseJudgedTarget = (what, ratios, wanted, noise, unit = '') => {
  const ratio = median(ratios)
  const pass = ratio - noise >= wanted
  const missed = ratio + noise < wanted
  return {
    what,
    wanted: `>= ${wanted.toFixed(2)}${unit}`,
    measured: `${fmt.ratio(ratio)} [${fmt.range(ratios)}] (A/A noise ±${noise.toFixed(3)})`,
    pass,
    ...(pass || missed ? {} : { verdict: 'inconclusive' }),
  }
}

/** A worker-throughput table's row maker: jobs/s (median and per round), CPU per job, and both ratios to the bare worker. */
export const workerRow = (throughput, cpuPerJob) => (variant, rateRatios, cpuRatiosOf) => [
  fmt.int(median(throughput[variant])),
  throughput[variant].map(fmt.int).join(', '),
  `${median(cpuPerJob[variant]).toFixed(0)} µs`,
  rateRatios ? `${fmt.ratio(median(rateRatios))} [${fmt.range(rateRatios)}]` : '1',
  cpuRatiosOf ? `${fmt.ratio(median(cpuRatiosOf))} [${fmt.range(cpuRatiosOf)}]` : '1',
]
