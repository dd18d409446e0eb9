// A throwaway redis-server for the BullMQ benchmark: a temporary directory, a unix socket, no
// persistence, stopped by its pid.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { sleep } from './load.mjs'

export const hasRedis = () => spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0

export const redisVersion = () =>
  hasRedis() ? (/v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown') : 'n/a'

export const startRedis = async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hbt-bench-redis-'))
  const socket = path.join(dir, 'redis.sock')
  const pidfile = path.join(dir, 'redis.pid')
  execFileSync('redis-server', [
    ...['--port', '0', '--unixsocket', socket, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'],
    ...['--dir', dir, '--daemonize', 'yes', '--pidfile', pidfile, '--logfile', path.join(dir, 'redis.log')],
  ])
  for (let i = 0; i < 300 && !(existsSync(socket) && existsSync(pidfile)); i++) await sleep(10)
  if (!existsSync(socket)) throw new Error('redis-server did not start')
  const pid = Number(readFileSync(pidfile, 'utf8').trim())
  const stop = () => {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', stop)
  return { socket, pid, stop }
}
