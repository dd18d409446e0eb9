/**
 * AWS Lambda freezes once it has replied, so nothing runs after the response: there the tasks run
 * before it. `hono/aws-lambda`'s `handle` passes `lambdaContext`; its `streamHandle` and
 * `hono/lambda-edge` pass the same Lambda context object as `context`.
 */
export const onLambda = (env: unknown): boolean => {
  const lambda = env as { lambdaContext?: unknown; context?: { getRemainingTimeInMillis?: unknown } } | undefined
  return Boolean(lambda?.lambdaContext) || typeof lambda?.context?.getRemainingTimeInMillis === 'function'
}
