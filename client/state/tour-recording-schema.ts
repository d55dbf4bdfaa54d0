/**
 * A session recording as a file: the room's (or the page's) event log, versioned like tours
 * (tour-schema.ts). Events are in time order, each at `t` milliseconds from the start:
 * - `view`: the shared view after a change (the whole TourView, as a beat holds it), taken from
 *   the page's stores or from the room's 'room:state' events (`source: 'room'`);
 * - `camera`: the presenter's (or this page's) camera pose;
 * - `caption`: a tour beat's caption as it was shown.
 * `stateAt` folds the log up to an event into what replay applies (pure; unit tested).
 */
import type { CameraPose } from '../../shared/protocol.js';
import { FieldChecker, type Checked, type TourView } from './tour-schema.js';

export const RECORDING_SCHEMA_VERSION = 1;
export const RECORDING_KIND = 'circuits-xr-recording';
/** A recording's most events (an hour of camera moves at 4 a second is 14,400). */
export const MAX_EVENTS = 20000;

export type RecordedEvent =
  | { t: number; kind: 'view'; view: TourView; source?: 'page' | 'room' }
  | { t: number; kind: 'camera'; camera: CameraPose }
  | { t: number; kind: 'caption'; caption: string };

export interface Recording {
  schemaVersion: number;
  kind: typeof RECORDING_KIND;
  /** When recording started (ISO 8601). */
  startedAt: string;
  model?: string;
  events: RecordedEvent[];
}

/** What the log says at one event: the latest view, camera and caption up to it. */
export interface ReplayState {
  view: TourView | null;
  camera: CameraPose | null;
  caption: string | null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function validateRecording(value: unknown): Checked<Recording> {
  const check = new FieldChecker();
  if (!isObject(value)) return { ok: false, errors: ['a recording must be a JSON object { schemaVersion, kind, startedAt, events }'] };
  if (!check.header(value, RECORDING_KIND, RECORDING_SCHEMA_VERSION, 'recording')) return { ok: false, errors: check.errors };
  check.unknownKeys('recording', value, ['schemaVersion', 'kind', 'startedAt', 'model', 'events']);
  if (typeof value.startedAt !== 'string' || Number.isNaN(Date.parse(value.startedAt))) check.fail('startedAt', 'must be a date and time (ISO 8601)', value.startedAt);
  check.text('model', value.model, { optional: true });
  if (!Array.isArray(value.events)) check.fail('events', 'must be a list of events { t, kind, ... }', value.events);
  else {
    if (value.events.length > MAX_EVENTS) check.errors.push(`events has ${value.events.length} events, over the limit of ${MAX_EVENTS}`);
    let last = 0;
    value.events.forEach((event, i) => {
      const path = `events[${i}]`;
      if (!isObject(event)) return check.fail(path, 'must be an object { t, kind, ... }', event);
      if (!(typeof event.t === 'number' && Number.isFinite(event.t) && event.t >= 0)) check.fail(`${path}.t`, 'must be milliseconds from the start (a number ≥ 0)', event.t);
      else if (event.t < last) check.fail(`${path}.t`, `must not be earlier than the event before it (${last} ms)`, event.t);
      else last = event.t;
      if (event.kind === 'view') {
        check.unknownKeys(path, event, ['t', 'kind', 'view', 'source']);
        check.view(`${path}.view`, event.view);
        check.oneOf(`${path}.source`, event.source, ['page', 'room']);
      } else if (event.kind === 'camera') {
        check.unknownKeys(path, event, ['t', 'kind', 'camera']);
        if (event.camera === undefined) check.errors.push(`${path}.camera is missing`);
        check.camera(`${path}.camera`, event.camera);
      } else if (event.kind === 'caption') {
        check.unknownKeys(path, event, ['t', 'kind', 'caption']);
        check.text(`${path}.caption`, event.caption);
      } else {
        check.fail(`${path}.kind`, 'must be one of "view", "camera", "caption"', event.kind);
      }
    });
  }
  return check.errors.length > 0 ? { ok: false, errors: check.errors } : { ok: true, value: value as unknown as Recording };
}

export function parseRecording(text: string): Checked<Recording> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, errors: [`not JSON: ${(error as Error).message}`] };
  }
  return validateRecording(value);
}

export function serializeRecording(recording: Omit<Recording, 'schemaVersion' | 'kind'>): string {
  const file: Recording = {
    schemaVersion: RECORDING_SCHEMA_VERSION, kind: RECORDING_KIND, startedAt: recording.startedAt,
    ...(recording.model ? { model: recording.model } : {}), events: recording.events,
  };
  return `${JSON.stringify(file)}\n`;
}

/** The state after events 0..index (index −1: nothing yet). */
export function stateAt(events: readonly RecordedEvent[], index: number): ReplayState {
  const state: ReplayState = { view: null, camera: null, caption: null };
  for (let i = 0; i <= Math.min(index, events.length - 1); i++) {
    const event = events[i]!;
    if (event.kind === 'view') state.view = event.view;
    else if (event.kind === 'camera') state.camera = event.camera;
    else state.caption = event.caption;
  }
  return state;
}

/** The index of the last event at or before `t` ms (−1 when none). */
export function indexAtTime(events: readonly RecordedEvent[], t: number): number {
  let lo = 0;
  let hi = events.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (events[mid]!.t <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}
