export type { TaskTracingOptions } from './tracing.ts'
export { TASK_ATTRIBUTES, taskTracing } from './tracing.ts'
