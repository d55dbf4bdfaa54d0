/**
 * A room's shared state: the JSON snapshot a presenter updates and the server relays. Updates are
 * partial (only the keys that changed) and merged key by key; each is checked here, at the edge,
 * so a follower never receives something the presenter's page could not have meant.
 */
import type { CameraPose, PointerPose, RoomState } from '../../shared/protocol.js';
import { PayloadError } from '../../shared/service/validate.js';

/** The merged snapshot's size limit (JSON bytes): a room's state is a view description, not data. */
export const MAX_STATE_BYTES = 64 * 1024;
const MAX_TEXT = 4000;

type Check = (event: string, key: string, value: unknown) => void;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const text: Check = (event, key, v) => {
  if (typeof v !== 'string' || v.length > MAX_TEXT) throw new PayloadError(`${event}: ${key} must be a string of at most ${MAX_TEXT} characters`);
};
const objectOrNull: Check = (event, key, v) => {
  if (v !== null && !isPlainObject(v)) throw new PayloadError(`${event}: ${key} must be an object or null`);
};

export function checkVector(event: string, key: string, v: unknown): asserts v is [number, number, number] {
  if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new PayloadError(`${event}: ${key} must be three finite numbers`);
  }
}

export function checkCamera(event: string, v: unknown): CameraPose {
  if (!isPlainObject(v)) throw new PayloadError(`${event}: the camera pose must be an object { position, target }`);
  const extra = Object.keys(v).filter((k) => k !== 'position' && k !== 'target' && k !== 'hands' && k !== 'vr');
  if (extra.length) throw new PayloadError(`${event}: unknown camera field ${extra.join(', ')}`);
  checkVector(event, 'camera.position', v.position);
  checkVector(event, 'camera.target', v.target);
  const pose: CameraPose = { position: v.position, target: v.target };
  if (v.hands !== undefined && v.hands !== null) {
    if (!Array.isArray(v.hands) || v.hands.length > 2) throw new PayloadError(`${event}: camera.hands must be a list of at most two positions`);
    v.hands.forEach((h, i) => checkVector(event, `camera.hands[${i}]`, h));
    pose.hands = v.hands as [number, number, number][];
  }
  if (v.vr !== undefined) {
    if (typeof v.vr !== 'boolean') throw new PayloadError(`${event}: camera.vr must be true or false`);
    pose.vr = v.vr;
  }
  return pose;
}

export function checkPointer(event: string, v: unknown): PointerPose | null {
  if (v === null) return null;
  if (!isPlainObject(v)) throw new PayloadError(`${event}: the pointer must be an object { origin, direction, hit? } or null`);
  const extra = Object.keys(v).filter((k) => k !== 'origin' && k !== 'direction' && k !== 'hit');
  if (extra.length) throw new PayloadError(`${event}: unknown pointer field ${extra.join(', ')}`);
  checkVector(event, 'pointer.origin', v.origin);
  checkVector(event, 'pointer.direction', v.direction);
  if (v.hit !== undefined && v.hit !== null) checkVector(event, 'pointer.hit', v.hit);
  return { origin: v.origin, direction: v.direction, hit: (v.hit as [number, number, number] | null | undefined) ?? null };
}

const checks: Record<keyof RoomState, Check> = {
  prompt: text,
  target: text,
  distractor: text,
  position: (event, key, v) => {
    if (v !== null && !(Number.isInteger(v) && (v as number) >= 0)) throw new PayloadError(`${event}: ${key} must be a position (integer ≥ 0) or null`);
  },
  selection: objectOrNull,
  question: objectOrNull,
  circuit: objectOrNull,
  panels: (event, key, v) => {
    if (!Array.isArray(v) || v.length > 64 || !v.every((p) => typeof p === 'string' && p.length <= 100)) {
      throw new PayloadError(`${event}: ${key} must be a list of at most 64 panel names`);
    }
  },
  camera: (event, _key, v) => {
    if (v !== null) checkCamera(event, v);
  },
  caption: (event, key, v) => {
    if (v !== null) text(event, key, v);
  },
};

/** Merges a checked partial update into `state`; throws a PayloadError in words when it is not valid. */
export function mergeState(event: string, state: RoomState, update: unknown): RoomState {
  if (!isPlainObject(update)) throw new PayloadError(`${event}: expected an object of state fields (${Object.keys(checks).join(', ')})`);
  const merged: Record<string, unknown> = { ...state };
  for (const [key, value] of Object.entries(update)) {
    const check = checks[key as keyof RoomState];
    if (!check) throw new PayloadError(`${event}: unknown state field "${key}" (known: ${Object.keys(checks).join(', ')})`);
    if (value === undefined) continue;
    check(event, key, value);
    merged[key] = value;
  }
  const bytes = Buffer.byteLength(JSON.stringify(merged));
  if (bytes > MAX_STATE_BYTES) {
    throw new PayloadError(`${event}: the room's state would be ${bytes} bytes, over the limit of ${MAX_STATE_BYTES}; it was not changed`);
  }
  return merged as RoomState;
}
