/** What `Deadline.race()` resolves with once the deadline has passed. */
export const DEADLINE = Symbol('deadline')

/**
 * One deadline for a wait that may take several steps (a drain, a shutdown, a worker's close):
 * `race()` any step against it, `remaining()` gives the next step what is left, and `clear()`
 * stops its timer once the wait is over. `false` is no deadline at all.
 */
export class Deadline {
  readonly #end: number
  #timer: ReturnType<typeof setTimeout> | undefined
  /** Resolves with `DEADLINE` when the deadline passes; never, without one. */
  readonly reached: Promise<typeof DEADLINE>

  constructor(timeout: number | false) {
    this.#end = timeout === false ? Number.POSITIVE_INFINITY : performance.now() + timeout
    this.reached = new Promise((resolve) => {
      if (timeout !== false) this.#timer = setTimeout(resolve, timeout, DEADLINE)
    })
  }

  /** Whether the deadline has passed. */
  get passed(): boolean {
    return performance.now() >= this.#end
  }

  /** Milliseconds left (at least 1, so that a timer of it still fires), or `false` without a deadline. */
  remaining(): number | false {
    return this.#end === Number.POSITIVE_INFINITY ? false : Math.max(1, this.#end - performance.now())
  }

  /** `promise`'s value, or `DEADLINE` if the deadline passes first. */
  race<T>(promise: Promise<T>): Promise<T | typeof DEADLINE> {
    return Promise.race([promise, this.reached])
  }

  /** Stops the timer: the wait is over. */
  clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
