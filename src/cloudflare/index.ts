export type { QueueBatch, QueueConsumerOptions, QueueMessage } from './consumer.ts'
export { queueConsumer } from './consumer.ts'
export type { QueueProducer } from './transport.ts'
export { cloudflareQueue } from './transport.ts'
