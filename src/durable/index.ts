export type { TaskMessage, TaskSendResult, TaskTransport } from '../types.ts'
export type { DefineTaskOptions, DurableTask } from './define.ts'
export { defineTask } from './define.ts'
export { parseTaskMessage } from './message.ts'
