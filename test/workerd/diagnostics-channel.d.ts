// The part of node:diagnostics_channel the workerd tests use; @types/node is not loaded next to workers-types here.
declare module 'node:diagnostics_channel' {
  type Subscribers<M> = Partial<Record<'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error', (message: M) => void>>
  interface TracingChannel<M> {
    subscribe(subscribers: Subscribers<M>): void
    unsubscribe(subscribers: Subscribers<M>): boolean
  }
  export function tracingChannel<R, M extends object>(name: string): TracingChannel<M>
}
