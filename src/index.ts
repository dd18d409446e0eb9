export { addTask } from './add-task.ts'
export { DrainTimeoutError, TaskSendError, TaskTimeoutError } from './errors.ts'
export { backgroundTasks } from './middleware.ts'
export type { DrainOptions, DrainResult, PendingTask } from './registry.ts'
export { drainTasks, pendingTasks } from './registry.ts'
export { task } from './task.ts'
export { TASK_CHANNEL } from './tracing-channel.ts'
export type {
  AttemptInfo,
  AttemptResult,
  BackgroundTasks,
  BackgroundTasksEnv,
  BackgroundTasksOptions,
  SendInfo,
  Task,
  TaskChannelMessage,
  TaskContext,
  TaskDelivery,
  TaskEndInfo,
  TaskFunction,
  TaskInfo,
  TaskInstrumentation,
  TaskMessage,
  TaskOptions,
  TaskOutcome,
  TaskTransport,
  TraceContext,
} from './types.ts'
