export type { TaskMessage, TaskSendResult, TaskTransport } from '../types.ts'
