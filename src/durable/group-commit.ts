import type { TaskSendResult } from '../types.ts'

const ACCEPTED: TaskSendResult = Object.freeze({ status: 'fulfilled', value: undefined })

interface Waiting<Item> {
  readonly items: readonly Item[]
  readonly resolve: (results: TaskSendResult[]) => void
}

/**
 * Writes the jobs of concurrent requests in as few round trips as the queue allows (a group
 * commit): a write goes out at once when none is in flight; jobs that arrive while one is wait
 * and go together in the next, up to `max` jobs per write. No timer, so a quiet server sends each
 * request's jobs at once and a busy one sends them in fewer, larger writes. A write that rejects
 * refuses all its jobs; one that resolves with a result per job reports each (a write that spans
 * several commits, say); one that resolves with nothing accepted them all.
 */
export class GroupCommit<Item> {
  readonly #write: (items: Item[]) => Promise<readonly TaskSendResult[] | undefined>
  readonly #max: number
  readonly #waiting: Waiting<Item>[] = []
  #writing = false

  /** `write` sends jobs in one round trip (BullMQ's `addBulk`, pg-boss's `insert`, a Deno KV commit); `max` bounds one write. */
  constructor(write: (items: Item[]) => Promise<readonly TaskSendResult[] | undefined>, max: number) {
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
      let results: readonly TaskSendResult[] | undefined
      let refusal: TaskSendResult | undefined
      try {
        results = await this.#write(group.flatMap((waiting) => waiting.items))
        if (results && results.length !== count) {
          throw new TypeError(`GroupCommit: the write gave ${results.length} results for ${count} jobs; expected one per job`)
        }
      } catch (reason) {
        results = undefined
        refusal = { status: 'rejected', reason }
      }
      let offset = 0
      for (const { items, resolve } of group) {
        resolve(results ? results.slice(offset, offset + items.length) : items.map(() => refusal ?? ACCEPTED))
        offset += items.length
      }
    }
    this.#writing = false
  }
}
