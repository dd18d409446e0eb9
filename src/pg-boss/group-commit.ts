/**
 * Sends from concurrent requests, grouped into as few round trips as they allow (group commit):
 * the first send goes at once; sends that arrive while it is in flight wait for it and then go
 * together in the next one. No timer, so an idle server adds no latency, and a busy one makes one
 * statement per round trip instead of one per request.
 */
export class GroupCommit<T> {
  readonly #write: (items: T[]) => Promise<void>
  #waiting: { readonly items: readonly T[]; readonly resolve: () => void; readonly reject: (reason: unknown) => void }[] = []
  #writing = false

  /** `write` sends one group; it rejects to refuse the whole group. */
  constructor(write: (items: T[]) => Promise<void>) {
    this.#write = write
  }

  /** Resolves once `items` were written, in a group with whatever else was waiting; rejects if that group was refused. */
  add(items: readonly T[]): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      this.#waiting.push({ items, resolve, reject })
    })
    if (!this.#writing) void this.#flush()
    return done
  }

  async #flush(): Promise<void> {
    this.#writing = true
    while (this.#waiting.length > 0) {
      const group = this.#waiting
      this.#waiting = []
      try {
        await this.#write(group.flatMap((send) => send.items))
        for (const send of group) send.resolve()
      } catch (error) {
        for (const send of group) send.reject(error)
      }
    }
    this.#writing = false
  }
}
