import type { KvAtomicLike, KvEnqueueOptions, KvEntryLike, KvKey, KvLike } from '../../src/deno-kv/kv.ts'

/** An in-memory stand-in for the part of `Deno.Kv` the transport uses, recording each commit. For unit tests in Node only. */
export class FakeKv implements KvLike {
  readonly store = new Map<string, { key: KvKey; value: unknown; versionstamp: string }>()
  readonly commits: { ok: boolean; enqueued: { value: unknown; options?: KvEnqueueOptions }[] }[] = []
  /** While set, a commit waits for it before it is applied: a test sees what queues up behind a commit in flight. */
  hold: Promise<void> | undefined
  /** Commits begun, held or not. */
  started = 0
  #version = 0

  atomic(): KvAtomicLike {
    const checks: { key: KvKey; versionstamp: string | null }[] = []
    const writes: (() => void)[] = []
    const enqueued: { value: unknown; options?: KvEnqueueOptions }[] = []
    const op: KvAtomicLike = {
      check: (...more) => {
        checks.push(...more)
        return op
      },
      set: (key, value) => {
        writes.push(() => this.store.set(JSON.stringify(key), { key, value, versionstamp: String(this.#version) }))
        return op
      },
      delete: (key) => {
        writes.push(() => this.store.delete(JSON.stringify(key)))
        return op
      },
      enqueue: (value, options) => {
        enqueued.push({ value, options })
        return op
      },
      commit: async () => {
        this.started++
        await this.hold
        const ok = checks.every((check) => (this.store.get(JSON.stringify(check.key))?.versionstamp ?? null) === check.versionstamp)
        this.commits.push({ ok, enqueued: ok ? enqueued : [] })
        if (ok) {
          this.#version++
          for (const write of writes) write()
        }
        return { ok }
      },
    }
    return op
  }

  async get(key: KvKey): Promise<KvEntryLike> {
    const entry = this.store.get(JSON.stringify(key))
    return entry ?? { key, value: null, versionstamp: null }
  }

  async *list(selector: { prefix: KvKey }): AsyncIterable<KvEntryLike> {
    const start = JSON.stringify(selector.prefix).slice(0, -1)
    for (const [k, entry] of this.store) if (k.startsWith(start)) yield entry
  }

  listenQueue(): Promise<void> {
    return new Promise(() => {})
  }

  close(): void {}
}
