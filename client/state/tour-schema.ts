/**
 * Tours and recordings as files: a versioned JSON schema and its validator (pure: no DOM, no
 * stores; unit tested, and used by the bundled tour's test in Node).
 *
 * A tour is a list of beats; each beat is a caption plus the shared view it shows: the view as the
 * link describes it (client/state/url-state.ts's ViewState: prompt, target, distractor, what was
 * done with it, position, neuron, tab, measures, pins, thresholds), plus what a link does not
 * carry: the selected attention head, the circuit's supernodes, and the camera pose.
 *
 * The validator answers every problem it finds in words that name the field
 * (`beats[2].view.position must be an integer ≥ 0 (got -1)`), and refuses a file made by a newer
 * version of the app (a higher `schemaVersion`) rather than guessing at it.
 */
import type { CameraPose } from '../../shared/protocol.js';
import type { ViewState } from './url-state.js';

export const TOUR_SCHEMA_VERSION = 1;
export const TOUR_KIND = 'circuits-xr-tour';

/** The view a beat shows: the link's state plus the head, supernodes (not in links). */
export interface TourView extends ViewState {
  /** The attention head whose pattern is shown (attention grid and arcs over the rail). */
  head?: { layer: number; head: number };
  /** Named groups of circuit nodes: [label, ...node ids] (Neuronpedia's supernodes). */
  supernodes?: string[][];
}

export interface TourBeat {
  /** What the presenter says at this beat (shown on screen before the camera moves). */
  caption: string;
  view: TourView;
  /** Where the desktop camera goes (and what it looks at); absent: the camera stays. */
  camera?: CameraPose;
}

export interface Tour {
  schemaVersion: number;
  kind: typeof TOUR_KIND;
  title: string;
  /** The model the tour was made for (its directory name), when it was made for one. */
  model?: string;
  beats: TourBeat[];
}

export type Checked<T> = { ok: true; value: T } | { ok: false; errors: string[] };

const MAX_TEXT = 4000;
const MAX_BEATS = 500;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  const text = JSON.stringify(v);
  return text === undefined ? String(v) : text.length > 40 ? `${text.slice(0, 37)}...` : text;
};

/** Collects errors as it checks one object's fields; `path` names where the object is. */
export class FieldChecker {
  constructor(readonly errors: string[] = []) {}

  fail(path: string, message: string, value: unknown): void {
    this.errors.push(`${path} ${message} (got ${show(value)})`);
  }

  unknownKeys(path: string, value: Record<string, unknown>, known: readonly string[]): void {
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) this.errors.push(`${path}.${key} is not a known field (known: ${known.join(', ')})`);
    }
  }

  text(path: string, v: unknown, { optional = false, nonEmpty = false } = {}): void {
    if (v === undefined && optional) return;
    if (typeof v !== 'string' || v.length > MAX_TEXT || (nonEmpty && v.trim().length === 0)) {
      this.fail(path, `must be ${nonEmpty ? 'a non-empty' : 'a'} string of at most ${MAX_TEXT} characters`, v);
    }
  }

  integer(path: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): void {
    if (v === undefined) return;
    if (!(Number.isInteger(v) && (v as number) >= min && (v as number) <= max)) {
      this.fail(path, max === Number.MAX_SAFE_INTEGER ? `must be an integer ≥ ${min}` : `must be an integer from ${min} to ${max}`, v);
    }
  }

  fraction(path: string, v: unknown): void {
    if (v === undefined) return;
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1)) this.fail(path, 'must be a number from 0 to 1', v);
  }

  oneOf(path: string, v: unknown, options: readonly string[]): void {
    if (v === undefined) return;
    if (!options.includes(v as string)) this.fail(path, `must be one of ${options.map((o) => `"${o}"`).join(', ')}`, v);
  }

  vector(path: string, v: unknown): void {
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      this.fail(path, 'must be three finite numbers [x, y, z]', v);
    }
  }

  camera(path: string, v: unknown): void {
    if (v === undefined) return;
    if (!isObject(v)) return this.fail(path, 'must be an object { position: [x, y, z], target: [x, y, z] }', v);
    this.unknownKeys(path, v, ['position', 'target']);
    this.vector(`${path}.position`, v.position);
    this.vector(`${path}.target`, v.target);
  }

  /** A TourView (the link's fields, head, supernodes). */
  view(path: string, v: unknown): void {
    if (!isObject(v)) return this.fail(path, 'must be an object of view fields (prompt, position, neuron, ...)', v);
    this.unknownKeys(path, v, viewKeys);
    this.text(`${path}.prompt`, v.prompt, { optional: true });
    this.text(`${path}.target`, v.target, { optional: true });
    this.text(`${path}.distractor`, v.distractor, { optional: true });
    this.oneOf(`${path}.action`, v.action, ['run', 'explain', 'trace']);
    if (v.action !== undefined && typeof v.prompt !== 'string') this.errors.push(`${path}.action "${String(v.action)}" needs a prompt (${path}.prompt is missing)`);
    this.integer(`${path}.position`, v.position, 0);
    if (v.neuron !== undefined) {
      if (!isObject(v.neuron)) this.fail(`${path}.neuron`, 'must be an object { layer, neuron }', v.neuron);
      else {
        this.unknownKeys(`${path}.neuron`, v.neuron, ['layer', 'neuron']);
        if (v.neuron.layer === undefined) this.errors.push(`${path}.neuron.layer is missing`);
        if (v.neuron.neuron === undefined) this.errors.push(`${path}.neuron.neuron is missing`);
        this.integer(`${path}.neuron.layer`, v.neuron.layer, 0);
        this.integer(`${path}.neuron.neuron`, v.neuron.neuron, 0);
      }
    }
    if (v.head !== undefined) {
      if (!isObject(v.head)) this.fail(`${path}.head`, 'must be an object { layer, head }', v.head);
      else {
        this.unknownKeys(`${path}.head`, v.head, ['layer', 'head']);
        if (v.head.layer === undefined) this.errors.push(`${path}.head.layer is missing`);
        if (v.head.head === undefined) this.errors.push(`${path}.head.head is missing`);
        this.integer(`${path}.head.layer`, v.head.layer, 0);
        this.integer(`${path}.head.head`, v.head.head, 0);
      }
    }
    this.oneOf(`${path}.tab`, v.tab, ['effects', 'neurons', 'circuit']);
    this.oneOf(`${path}.neuronMeasure`, v.neuronMeasure, ['direct', 'total']);
    this.oneOf(`${path}.tokenMeasure`, v.tokenMeasure, ['gradXInput', 'occlusion']);
    if (v.pins !== undefined && !(Array.isArray(v.pins) && v.pins.every((p) => typeof p === 'string' && p.length > 0 && p.length <= 200))) {
      this.fail(`${path}.pins`, 'must be a list of node ids (strings)', v.pins);
    }
    this.integer(`${path}.maxNodes`, v.maxNodes, 1, 2000);
    this.fraction(`${path}.nodeThreshold`, v.nodeThreshold);
    this.fraction(`${path}.edgeThreshold`, v.edgeThreshold);
    if (v.supernodes !== undefined) {
      if (!Array.isArray(v.supernodes)) this.fail(`${path}.supernodes`, 'must be a list of groups [label, ...node ids]', v.supernodes);
      else {
        v.supernodes.forEach((group, i) => {
          if (!(Array.isArray(group) && group.length >= 3 && group.every((s) => typeof s === 'string' && s.length <= 200))) {
            this.fail(`${path}.supernodes[${i}]`, 'must be a label then at least two node ids, all strings', group);
          }
        });
      }
    }
  }

  /** `schemaVersion` and `kind` of a file of `kind`; false when the rest should not be read. */
  header(v: Record<string, unknown>, kind: string, version: number, what: string): boolean {
    if (v.kind !== kind) {
      this.fail('kind', `must be "${kind}": this is not a ${what} file`, v.kind);
      return false;
    }
    if (!Number.isInteger(v.schemaVersion) || (v.schemaVersion as number) < 1) {
      this.fail('schemaVersion', 'must be a positive integer', v.schemaVersion);
      return false;
    }
    if ((v.schemaVersion as number) > version) {
      this.errors.push(`schemaVersion ${String(v.schemaVersion)} is newer than this app understands (${version}): this ${what} was saved by a newer Circuits XR; update the app to open it`);
      return false;
    }
    return true;
  }
}

export const viewKeys = [
  'prompt', 'target', 'distractor', 'action', 'position', 'neuron', 'tab', 'neuronMeasure', 'tokenMeasure',
  'pins', 'maxNodes', 'nodeThreshold', 'edgeThreshold', 'head', 'supernodes',
] as const satisfies readonly (keyof TourView)[];

/** Checks a parsed tour file; every problem is reported, each naming its field. */
export function validateTour(value: unknown): Checked<Tour> {
  const check = new FieldChecker();
  if (!isObject(value)) return { ok: false, errors: [`a tour must be a JSON object { schemaVersion, kind, title, beats } (got ${show(value)})`] };
  if (!check.header(value, TOUR_KIND, TOUR_SCHEMA_VERSION, 'tour')) return { ok: false, errors: check.errors };
  check.unknownKeys('tour', value, ['schemaVersion', 'kind', 'title', 'model', 'beats']);
  check.text('title', value.title, { nonEmpty: true });
  check.text('model', value.model, { optional: true });
  if (!Array.isArray(value.beats)) check.fail('beats', 'must be a list of beats { caption, view, camera? }', value.beats);
  else {
    if (value.beats.length === 0) check.errors.push('beats is empty: a tour needs at least one beat');
    if (value.beats.length > MAX_BEATS) check.errors.push(`beats has ${value.beats.length} beats, over the limit of ${MAX_BEATS}`);
    value.beats.forEach((beat, i) => {
      const path = `beats[${i}]`;
      if (!isObject(beat)) return check.fail(path, 'must be an object { caption, view, camera? }', beat);
      check.unknownKeys(path, beat, ['caption', 'view', 'camera']);
      check.text(`${path}.caption`, beat.caption, { nonEmpty: true });
      check.view(`${path}.view`, beat.view);
      check.camera(`${path}.camera`, beat.camera);
    });
  }
  return check.errors.length > 0 ? { ok: false, errors: check.errors } : { ok: true, value: value as unknown as Tour };
}

/** Reads a tour from a file's text; the errors say what is wrong, in words. */
export function parseTour(text: string): Checked<Tour> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, errors: [`not JSON: ${(error as Error).message}`] };
  }
  return validateTour(value);
}

/** A tour's file text (stable key order, two-space indent, so saved tours diff well). */
export function serializeTour(tour: Omit<Tour, 'schemaVersion' | 'kind'>): string {
  const file: Tour = { schemaVersion: TOUR_SCHEMA_VERSION, kind: TOUR_KIND, title: tour.title, ...(tour.model ? { model: tour.model } : {}), beats: tour.beats };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** The errors as one message for a status line. */
export function describeErrors(what: string, errors: readonly string[]): string {
  const shown = errors.slice(0, 4).join('; ');
  return `${what}: ${shown}${errors.length > 4 ? `; and ${errors.length - 4} more` : ''}`;
}
