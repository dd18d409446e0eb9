// The large bodies of the streaming and slow-clients benchmarks, shared by the app (every runtime) and by
// the benchmarks, which compute the hash a body must have. 64 KiB chunks, each a copy of one of seven
// printable-ASCII templates with its index written over its first 10 bytes: every body is the same bytes
// on every runtime, and a chunk reordered, dropped or doubled changes its hash.
const KiB = 1024
const MiB = 1024 * KiB
export const CHUNK = 64 * KiB
const TEMPLATES = 7
const MAX_CHUNKS = 16 * 1024 // 1 GiB

let templates
/** Chunk `i` as text (ASCII, no line breaks: one SSE `data:` line). */
export const chunkText = (i) => {
  templates ??= Array.from({ length: TEMPLATES }, (_, t) => {
    let text = ''
    for (let j = 0; j < CHUNK; j++) text += String.fromCharCode(33 + ((j * 31 + t * 17) % 94))
    return text
  })
  return String(i).padStart(10, '0') + templates[i % TEMPLATES].slice(10)
}

const encoder = new TextEncoder()
/** Chunk `i` as bytes, made when asked for. */
export const chunkBytes = (i) => encoder.encode(chunkText(i))

/** The number of chunks in `mb` MiB (a query parameter; 100 when absent), between 1 and 16,384. */
export const chunkCount = (mb = '100') => Math.min(Math.max(Math.round(Number(mb) * 16) || 1, 1), MAX_CHUNKS)

/** A pull ReadableStream of `n` chunks, each made when its consumer pulls it. */
export const pullStream = (n) => {
  let i = 0
  return new ReadableStream({
    pull(controller) {
      if (i < n) controller.enqueue(chunkBytes(i++))
      else controller.close()
    },
  })
}

export const BUFFER_SIZE = 10 * MiB
let buffer
/** The 10 MiB buffered body (chunks 0-159): made once, sent by every request for it. */
export const bufferBody = () => {
  if (!buffer) {
    buffer = new Uint8Array(BUFFER_SIZE)
    for (let i = 0; i < BUFFER_SIZE / CHUNK; i++) buffer.set(chunkBytes(i), i * CHUNK)
  }
  return buffer
}
