/**
 * The part of `Deno.Kv` this subpath uses, declared here so that the library type-checks without
 * Deno's types: a real `Deno.Kv` (from `await Deno.openKv()`) fits it.
 */

/** One part of a Deno KV key, as `Deno.KvKeyPart`. */
export type KvKeyPart = Uint8Array | string | number | bigint | boolean | symbol

/** A Deno KV key: `['hono-background-tasks', 'dead', id]`. */
export type KvKey = readonly KvKeyPart[]

/** An entry as `get()` and `list()` give it; `versionstamp` is `null` when the key is not set. */
export interface KvEntryLike<T = unknown> {
  readonly key: KvKey
  readonly value: T | null
  readonly versionstamp: string | null
}

/** The options of `enqueue()` on a `Deno.Kv` or an atomic operation. */
export interface KvEnqueueOptions {
  delay?: number
  keysIfUndelivered?: KvKey[]
  backoffSchedule?: number[]
}

/** The part of `Deno.AtomicOperation` used here. */
export interface KvAtomicLike {
  check(...checks: { key: KvKey; versionstamp: string | null }[]): KvAtomicLike
  set(key: KvKey, value: unknown, options?: { expireIn?: number }): KvAtomicLike
  delete(key: KvKey): KvAtomicLike
  enqueue(value: unknown, options?: KvEnqueueOptions): KvAtomicLike
  commit(): Promise<{ readonly ok: boolean }>
}

/** The part of `Deno.Kv` used here: a `Deno.Kv` from `await Deno.openKv()` fits it. */
export interface KvLike {
  atomic(): KvAtomicLike
  get(key: KvKey): Promise<KvEntryLike>
  list(selector: { prefix: KvKey }): AsyncIterable<KvEntryLike>
  // biome-ignore lint/suspicious/noExplicitAny: Deno types the queued value as `any`; a narrower parameter would not accept its handler type.
  listenQueue(handler: (value: any) => Promise<void> | void): Promise<void>
  close(): void
}

/** Whether `value` is a usable key prefix: an array of key parts. */
export const isKeyPrefix = (value: unknown): value is KvKey =>
  Array.isArray(value) &&
  value.every((part) => ['string', 'number', 'bigint', 'boolean'].includes(typeof part) || part instanceof Uint8Array)

/** Where a prefix keeps what the transport and the worker write, per task id. */
export class KeyLayout {
  readonly #prefix: KvKey

  constructor(prefix: KvKey) {
    this.#prefix = prefix
  }

  /** The prefix, as given. */
  get prefix(): KvKey {
    return this.#prefix
  }

  /** Set with the message: a second send of the same id finds it and is dropped. Expires. */
  sent(id: string): KvKey {
    return [...this.#prefix, 'sent', id]
  }

  /** How many deliveries of this id have started: `this.attempt`. Expires. */
  attempts(id: string): KvKey {
    return [...this.#prefix, 'attempts', id]
  }

  /** The dead letter itself: the queued value, written by Deno after the last retry (`keysIfUndelivered`). */
  dead(id: string): KvKey {
    return [...this.#prefix, 'dead', id]
  }

  /** All dead letters. */
  get deadLetters(): KvKey {
    return [...this.#prefix, 'dead']
  }

  /** Why the last delivery of this id failed, written by the worker: what a dead letter's listing shows. */
  failure(id: string): KvKey {
    return [...this.#prefix, 'failure', id]
  }
}

/** The key prefix both sides use unless told otherwise. */
export const DEFAULT_PREFIX: KvKey = Object.freeze(['hono-background-tasks']) as KvKey
