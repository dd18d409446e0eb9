/**
 * Splits items into consecutive batches of at most `maxCount` items and `maxBytes` bytes, by index:
 * what one queue call (a Cloudflare `sendBatch`, a Deno KV commit) may carry. An item larger than
 * `maxBytes` alone goes in a batch of its own; order is kept.
 */
export const batchesWithin = (
  items: readonly (readonly [index: number, bytes: number])[],
  maxCount: number,
  maxBytes: number,
): number[][] => {
  const batches: number[][] = []
  let current: number[] = []
  let bytes = 0
  for (const [index, size] of items) {
    if (current.length > 0 && (current.length === maxCount || bytes + size > maxBytes)) {
      batches.push(current)
      current = []
      bytes = 0
    }
    current.push(index)
    bytes += size
  }
  if (current.length > 0) batches.push(current)
  return batches
}
