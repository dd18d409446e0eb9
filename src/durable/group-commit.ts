import type { TaskSendResult } from '../types.ts'

interface Waiting<Item> {
  readonly items: readonly Item[]
  readonly resolve: (results: TaskSendResult[]) => void
}

/**
 * Writes the jobs of concurrent requests in as few round trips as the queue allows (a group
 * commit): a write goes out at once when none is in flight; jobs that arrive while one is wait
 * and go together in the next, up to `max` jobs per write. No timer, so a quiet server sends each
 * request's jobs at once and a busy one sends them in fewer, larger writes. A write is all or
 * nothing: when it fails, every job in it is reported refused, and the next write goes on.
 */
export class GroupCommit<Item> {
  readonly #write: (items: Item[]) => Promise<unknown>
  readonly #max: number
  readonly #waiting: Waiting<Item>[] = []
  #writing = false

  /** `write` sends jobs in one round trip (BullMQ's `addBulk`, pg-boss's `insert`); `max` bounds one write. */
  constructor(write: (items: Item[]) => Promise<unknown>, max: number) {
    this.#write = write
    this.#max = max
  }

  /** Sends `items` in the next write; resolves with one result per item, in order, and never rejects. */
  send(items: readonly Item[]): Promise<TaskSendResult[]> {
    return new Promise((resolve) => {
      this.#waiting.push({ items, resolve })
      if (!this.#writing) void this.#drain()
    })
  }

  async #drain(): Promise<void> {
    this.#writing = true
    while (this.#waiting.length > 0) {
      const group: Waiting<Item>[] = []
      let count = 0
      // One request's jobs are never split: its own batch may exceed `max` alone.
      while (this.#waiting.length > 0 && (group.length === 0 || count + this.#waiting[0]!.items.length <= this.#max)) {
        const next = this.#waiting.shift()!
        group.push(next)
        count += next.items.length
      }
      let outcome: TaskSendResult
      try {
        await this.#write(group.flatMap((waiting) => waiting.items))
        outcome = { status: 'fulfilled', value: undefined }
      } catch (reason) {
        outcome = { status: 'rejected', reason }
      }
      for (const waiting of group) waiting.resolve(waiting.items.map(() => outcome))
    }
    this.#writing = false
  }
}
