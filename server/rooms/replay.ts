/**
 * A late joiner's catch-up: the room's last run (its 'run:frame' / 'generate:token' /
 * 'generate:done' events and the relayed result) and the last analysis results, kept as JSON in the
 * room store (binary frames as base64) and emitted to a joining member right after its snapshot, so
 * it sees the presenter's run at once instead of a blank scene. Nothing is run again.
 */
export type ReplayEvent = [event: string, ...args: unknown[]];

function encodeValue(value: unknown, depth = 0): unknown {
  if (value instanceof ArrayBuffer) return { $bin: Buffer.from(value).toString('base64') };
  if (ArrayBuffer.isView(value)) return { $bin: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => encodeValue(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encodeValue(v, depth + 1)]));
}

function decodeValue(value: unknown, depth = 0): unknown {
  if (depth > 7 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => decodeValue(v, depth + 1));
  const bin = (value as { $bin?: unknown }).$bin;
  if (typeof bin === 'string' && Object.keys(value).length === 1) return Buffer.from(bin, 'base64');
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decodeValue(v, depth + 1)]));
}

export function encodeReplay(events: readonly ReplayEvent[]): string {
  return JSON.stringify(events.map((e) => encodeValue(e)));
}

export function decodeReplay(json: string): ReplayEvent[] {
  const parsed = JSON.parse(json) as unknown;
  if (!Array.isArray(parsed)) return [];
  return parsed.filter((e): e is unknown[] => Array.isArray(e) && typeof e[0] === 'string').map((e) => decodeValue(e) as ReplayEvent);
}
