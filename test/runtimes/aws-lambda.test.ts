import { Writable } from 'node:stream'
import { type APIGatewayProxyResult, type ApiGatewayRequestContextV2, handle, type LambdaContext, streamHandle } from 'hono/aws-lambda'
import { handle as handleEdge } from 'hono/lambda-edge'
import { afterEach, describe, expect, it } from 'vitest'
import { behaviourSuite } from '../_support/behaviour-suite.ts'
import { lifetimeChecks } from './lifetime-checks.ts'
import { rulesFor, runtimeRun, titleOf } from './matrix.ts'
import { createRuntimeApp, type LifetimeProbe } from './servers/app.ts'

const run = runtimeRun('aws-lambda')

/** An API Gateway HTTP API (payload 2.0) event for `path`, as Lambda receives it. */
const apiGatewayEvent = (path: string, method = 'GET') => {
  const url = new URL(path, 'https://api.example.com')
  const requestContext: ApiGatewayRequestContextV2 = {
    accountId: '123456789012',
    apiId: 'api',
    authentication: null,
    authorizer: {},
    domainName: 'api.example.com',
    domainPrefix: 'api',
    http: { method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
    requestId: crypto.randomUUID(),
    routeKey: '$default',
    stage: '$default',
    time: new Date().toUTCString(),
    timeEpoch: Date.now(),
  }
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers: { host: 'api.example.com' },
    body: null,
    isBase64Encoded: false,
    requestContext,
  }
}

/** The context object Lambda passes a handler next to the event. */
const lambdaContext = (): LambdaContext => ({
  callbackWaitsForEmptyEventLoop: true,
  functionName: 'register',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:register',
  memoryLimitInMB: '128',
  awsRequestId: crypto.randomUUID(),
  logGroupName: '/aws/lambda/register',
  logStreamName: 'stream',
  getRemainingTimeInMillis: () => 30_000,
})

const app = createRuntimeApp()
const control = (path: string, init?: RequestInit) => app.request(path, init)
const eventsOf = async (id: string) => (await (await control(`/_/events/${id}`)).json()) as string[]
const waitFor = async (id: string, event: string) => {
  for (;;) {
    const events = await eventsOf(id)
    if (events.includes(event)) return events
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

describe(titleOf(run), () => {
  // The env `hono/aws-lambda`'s `handle` passes to app.fetch: `{ event, requestContext, lambdaContext }`.
  // The suite needs the live Response (to read a stream chunk by chunk), which `handle` buffers.
  const target = () => ({
    fetch: async (path: string, init?: RequestInit) => {
      const event = apiGatewayEvent(path, init?.method)
      const request = new Request(new URL(path, 'https://api.example.com'), init)
      return app.fetch(request, { event, requestContext: event.requestContext, lambdaContext: lambdaContext() })
    },
  })
  lifetimeChecks(run, target)
  behaviourSuite(target, rulesFor(run))
})

/** A CloudFront viewer-request event for Lambda@Edge. */
const cloudFrontEvent = (path: string) => ({
  Records: [
    {
      cf: {
        config: {
          distributionDomainName: 'd123.cloudfront.net',
          distributionId: 'EDFDVBD6EXAMPLE',
          eventType: 'viewer-request',
          requestId: 'id',
        },
        request: {
          clientIp: '127.0.0.1',
          headers: { host: [{ key: 'Host', value: 'd123.cloudfront.net' }] },
          method: 'GET',
          querystring: '',
          uri: path,
        },
      },
    },
  ],
})

/** Calls `invoke` for `/handoff/<id>` and proves its result comes only once the task has ended. */
const repliesAfterItsTask = async <T>(invoke: (path: string) => Promise<T>): Promise<T> => {
  const id = `lambda${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
  let answered = false
  const result = invoke(`/handoff/${id}`).then((r) => {
    answered = true
    return r
  })
  await waitFor(id, 'task:start')
  expect(answered).toBe(false)
  await control(`/_/open/${id}/g`, { method: 'POST' })
  const value = await result
  expect(await eventsOf(id)).toEqual(['handler', 'task:start', 'task:end'])
  return value
}

describe("AWS Lambda: hono/aws-lambda's adapters themselves", () => {
  const globals = globalThis as Record<string, unknown>
  afterEach(() => {
    delete globals.awslambda
  })

  it("handle(): the Lambda result comes only once the request's tasks have ended [design: Where the lifetime comes from]", async () => {
    const lambda = handle(app)
    const { statusCode, body } = await repliesAfterItsTask(
      (path) => lambda(apiGatewayEvent(path), lambdaContext()) as Promise<APIGatewayProxyResult>,
    )
    expect({ statusCode, body: JSON.parse(body) }).toEqual({ statusCode: 200, body: { ok: true, size: 1 } })
  })

  it("hono/lambda-edge's handle(): the CloudFront result comes only once the tasks have ended [design: Where the lifetime comes from]", async () => {
    const edge = handleEdge(app)
    const result = await repliesAfterItsTask((path) => edge(cloudFrontEvent(path) as never, lambdaContext() as never))
    const { status, body } = result as { status: string; body: string }
    expect({ status, body: JSON.parse(body) }).toEqual({ status: '200', body: { ok: true, size: 1 } })
  })

  it('streamHandle() (response streaming): nothing is streamed until the tasks have ended [design: Where the lifetime comes from]', async () => {
    // What the Lambda Node.js runtime provides to a response-streaming handler.
    globals.awslambda = {
      streamifyResponse: (fn: unknown) => fn,
      HttpResponseStream: { from: (stream: Writable) => stream },
    }
    const chunks: string[] = []
    const sink = () =>
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          chunks.push(chunk.toString())
          done()
        },
      })
    // streamifyResponse is the identity here, so the handler takes (event, responseStream, context).
    const stream = streamHandle(app) as unknown as (event: unknown, responseStream: Writable, context: LambdaContext) => Promise<void>

    const probe = sink()
    await stream(apiGatewayEvent('/_/lifetime'), probe, lambdaContext())
    expect(JSON.parse(chunks.join('')) as LifetimeProbe).toEqual({ lifetime: 'before-response', start: 'before-reply' })

    const id = `lambdastream${Date.now().toString(36)}`
    chunks.length = 0
    const done = stream(apiGatewayEvent(`/handoff/${id}`), sink(), lambdaContext())
    await waitFor(id, 'task:start')
    expect(chunks).toEqual([])
    await control(`/_/open/${id}/g`, { method: 'POST' })
    await done
    expect(JSON.parse(chunks.join(''))).toEqual({ ok: true, size: 1 })
    expect(await eventsOf(id)).toEqual(['handler', 'task:start', 'task:end'])
  })
})
