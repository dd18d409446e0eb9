export { addTask } from './add-task.ts'
export { DrainTimeoutError, TaskSendError, TaskTimeoutError } from './errors.ts'
export { backgroundTasks } from './middleware.ts'
export type { DrainOptions, DrainResult, PendingTask } from './registry.ts'
export { drainTasks, pendingTasks } from './registry.ts'
export { task } from './task.ts'
export type {
  BackgroundTasks,
  BackgroundTasksEnv,
  BackgroundTasksOptions,
  Task,
  TaskContext,
  TaskEndInfo,
  TaskFunction,
  TaskInfo,
  TaskMessage,
  TaskOptions,
  TaskOutcome,
  TaskTransport,
} from './types.ts'
