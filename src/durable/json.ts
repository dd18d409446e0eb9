const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

const member = (path: string, key: string): string => (IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`)

const describeObject = (value: object): string => {
  if (value instanceof Date) return 'a Date (JSON turns it into a string; pass `date.toISOString()` or `date.getTime()`)'
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name
  const type = typeof name === 'string' && name !== '' ? name : Object.prototype.toString.call(value).slice(8, -1)
  return `an instance of ${type} (only plain objects and arrays survive JSON)`
}

/** Where and why `value` would not come back from JSON as it went in; `undefined` if it would. */
const findProblem = (value: unknown, path: string, ancestors: object[]): [path: string, reason: string] | undefined => {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined
    case 'number':
      return Number.isFinite(value) ? undefined : [path, `\`${value}\` (JSON turns it into \`null\`)`]
    case 'undefined':
      return [path, '`undefined` (JSON turns it into `null` here; pass `null`)']
    case 'bigint':
      return [path, 'a BigInt']
    case 'symbol':
      return [path, 'a symbol']
    case 'function':
      return [path, `a function (\`${value.name || 'anonymous'}\`)`]
  }
  if (value === null) return undefined
  const object = value as object
  if (ancestors.includes(object)) return [path, 'a circular reference']
  ancestors.push(object)
  let problem: [string, string] | undefined
  if (Array.isArray(object)) {
    // A hole reads as `undefined`, which JSON turns into `null` like an explicit one.
    for (let i = 0; i < object.length && !problem; i++) problem = findProblem(object[i], `${path}[${i}]`, ancestors)
  } else {
    const prototype = Object.getPrototypeOf(object)
    if (prototype !== Object.prototype && prototype !== null) problem = [path, describeObject(object)]
    else if (Object.getOwnPropertySymbols(object).length > 0) problem = [path, 'an object with symbol keys (JSON drops them)']
    else {
      for (const [key, item] of Object.entries(object)) {
        // JSON leaves an `undefined` property out, and reading it back gives `undefined` again.
        if (item !== undefined) problem = findProblem(item, member(path, key), ancestors)
        if (problem) break
      }
    }
  }
  ancestors.pop()
  return problem
}

/**
 * Checks that a durable task's arguments come back from JSON as they went in, and returns them
 * without trailing `undefined`s (optional arguments left out). Throws a one-line TypeError naming
 * the task, the argument and the path otherwise.
 */
export const checkJsonArgs = (task: string, args: readonly unknown[]): unknown[] => {
  let length = args.length
  while (length > 0 && args[length - 1] === undefined) length--
  const kept = args.slice(0, length)
  for (let i = 0; i < kept.length; i++) {
    const problem = findProblem(kept[i], `args[${i}]`, [])
    if (problem) {
      throw new TypeError(`tasks.add: argument ${i} of durable task "${task}" is not JSON-serialisable at \`${problem[0]}\`: ${problem[1]}`)
    }
  }
  return kept
}
