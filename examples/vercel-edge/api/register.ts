import { Hono } from 'hono'
import { createApp } from '../src/app.ts'
import { emailConfig } from '../src/email.ts'

/** Run on Vercel's Edge runtime. */
export const config = { runtime: 'edge' }

/** What Vercel passes an Edge Function next to the request. */
interface RequestContext {
  waitUntil(promise: Promise<unknown>): void
}

const app = new Hono().route('/api', createApp(emailConfig(process.env)))

/**
 * `POST /api/register`. The platform's context is passed on to Hono, so that the library finds
 * `c.executionCtx.waitUntil` and Vercel keeps the function alive until the email has been sent.
 */
export default (request: Request, context: RequestContext) =>
  app.fetch(request, {}, { waitUntil: (promise) => context.waitUntil(promise), passThroughOnException: () => {}, props: {} })
