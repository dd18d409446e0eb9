/** A promise with its resolve function outside, to hold a task or a handler at a known point. */
export const deferred = <T = void>() => {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** A stand-in ExecutionContext that records how `waitUntil` was called. For unit tests only. */
export const recordingExecutionContext = () => {
  const calls: { promise: Promise<unknown>; boundToOwner: boolean }[] = []
  const ctx = {
    waitUntil(this: unknown, promise: Promise<unknown>) {
      calls.push({ promise, boundToOwner: this === ctx })
    },
    passThroughOnException() {},
    props: {},
  }
  return { ctx, calls, settled: () => Promise.all(calls.map((c) => c.promise)) }
}
