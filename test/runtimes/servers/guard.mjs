// `node guard.mjs <command> [...args]`: runs the command as its child, passes SIGTERM and SIGINT on
// to it, exits with its exit code, and kills its whole process group once stdin closes, which
// happens when the test process that started it is gone, even if it died without cleaning up.
import { spawn } from 'node:child_process'

const [command, ...args] = process.argv.slice(2)
const child = spawn(command, args, { stdio: 'inherit' })
const killGroup = () => {
  try {
    process.kill(-process.pid, 'SIGKILL')
  } catch {
    process.exit(1)
  }
}
process.stdin.on('end', killGroup).on('close', killGroup).resume()
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal))
child.on('error', (error) => {
  console.error(error)
  process.exit(1)
})
child.on('exit', (code) => process.exit(code ?? 1))
