/**
 * Run-time checks of every client payload at the server's edge. Types are not validation: a
 * payload that fails gets one precise message and nothing else happens.
 */

export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

/** A request only the operator (the access token's holder) may make. */
export class ForbiddenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenError';
  }
}

type Shape = Record<string, { kind: 'string' | 'integer' | 'number'; optional?: boolean; min?: number; max?: number; nonEmpty?: boolean }>;

/** Checks a plain object against a flat shape; unknown fields are an error (they usually mean a typo). */
export function checkObject<T>(event: string, value: unknown, shape: Shape): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PayloadError(`${event}: expected an object, got ${describe(value)}`);
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!(key in shape)) throw new PayloadError(`${event}: unknown field "${key}" (expected ${Object.keys(shape).join(', ')})`);
  }
  for (const [key, rule] of Object.entries(shape)) {
    const field = record[key];
    if (field === undefined) {
      if (rule.optional) continue;
      throw new PayloadError(`${event}: "${key}" is required`);
    }
    if (rule.kind === 'string') {
      if (typeof field !== 'string') throw new PayloadError(`${event}: "${key}" must be a string, got ${describe(field)}`);
      if (rule.nonEmpty && field.length === 0) throw new PayloadError(`${event}: "${key}" must not be empty`);
      if (rule.max !== undefined && field.length > rule.max) throw new PayloadError(`${event}: "${key}" is ${field.length} characters, at most ${rule.max} allowed`);
      continue;
    }
    if (typeof field !== 'number' || !Number.isFinite(field)) throw new PayloadError(`${event}: "${key}" must be a finite number, got ${describe(field)}`);
    if (rule.kind === 'integer' && !Number.isInteger(field)) throw new PayloadError(`${event}: "${key}" must be an integer, got ${field}`);
    if (rule.min !== undefined && field < rule.min) throw new PayloadError(`${event}: "${key}" must be at least ${rule.min}, got ${field}`);
    if (rule.max !== undefined && field > rule.max) throw new PayloadError(`${event}: "${key}" must be at most ${rule.max}, got ${field}`);
  }
  return value as T;
}

export function checkIdList(event: string, value: unknown, vocabSize: number, maxLength: number): number[] {
  if (!Array.isArray(value)) throw new PayloadError(`${event}: expected an array of token ids, got ${describe(value)}`);
  if (value.length > maxLength) throw new PayloadError(`${event}: ${value.length} ids, at most ${maxLength} allowed`);
  value.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new PayloadError(`${event}: ids[${i}] = ${describe(id)} is not a token id (0..${vocabSize - 1})`);
  });
  return value as number[];
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number') return String(value);
  return typeof value;
}
