import { connect } from 'node:net'

/**
 * A raw HTTP/1.1 client that sends `GET path` to `origin`, reads `bytes` of the reply (headers
 * included) and then stops reading without closing, as a client on a slow link would. Resolves
 * once it has stopped; `destroy()` leaves.
 */
export const stallingClient = (origin: string, path: string, bytes: number): Promise<{ destroy(): void }> => {
  const url = new URL(origin)
  const socket = connect(Number(url.port), url.hostname)
  socket.on('error', () => {})
  let received = 0
  return new Promise((resolve, reject) => {
    socket.once('close', () => reject(new Error(`the server closed the connection after ${received} bytes`)))
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length
      if (received < bytes) return
      socket.pause()
      socket.removeAllListeners('close')
      resolve({ destroy: () => socket.destroy() })
    })
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAccept-Encoding: identity\r\n\r\n`)
  })
}
