// The part of autocannon 9 (which ships no types) that the load tests use.
declare module 'autocannon' {
  interface Options {
    url: string
    connections?: number
    amount?: number
    duration?: number
    pipelining?: number
    timeout?: number
  }
  interface Result {
    requests: { total: number; average: number }
    latency: { p50: number; p99: number; max: number }
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    '2xx': number
  }
  interface Instance extends PromiseLike<Result> {
    on(event: 'response', listener: (client: unknown, status: number) => void): this
  }
  function autocannon(options: Options): Instance
  export default autocannon
}
