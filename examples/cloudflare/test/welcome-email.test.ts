import { describe, expect, it } from 'vitest'
import { welcomeEmail } from '../src/tasks.ts'

const user = { id: 'a1b2', email: 'zoe@example.com', name: 'Zoë Ångström', registeredAt: '2026-04-01T00:00:00.000Z' }

const decodeWord = (word: string): string => {
  const base64 = /^=\?UTF-8\?B\?(.+)\?=$/.exec(word)?.[1] ?? ''
  return new TextDecoder().decode(Uint8Array.from(atob(base64), (char) => char.charCodeAt(0)))
}

describe('welcomeEmail', () => {
  it('builds a MIME message whose headers carry names outside ASCII as encoded words', () => {
    const [head = '', body = ''] = welcomeEmail('welcome@example.com', user).split('\r\n\r\n')
    const headers = new Map(head.split('\r\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]))

    expect(headers.get('From')).toBe('welcome@example.com')
    expect(headers.get('To')).toBe('zoe@example.com')
    expect(headers.get('Message-ID')).toBe('<a1b2@example.com>')
    expect(decodeWord(headers.get('Subject') ?? '')).toBe('Welcome, Zoë Ångström!')
    expect(head).toMatch(/^[\x20-\x7e\r\n]*$/)
    expect(body).toContain('Hi Zoë Ångström,')
  })
})
