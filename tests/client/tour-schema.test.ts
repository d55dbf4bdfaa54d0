/**
 * The tour and recording file schemas (client/state/tour-schema.ts, tour-recording-schema.ts):
 * a valid file passes and round-trips through its serializer; each kind of invalid field is
 * refused with an error that names the field; a file from a newer schema version is refused
 * with a message saying so; the replay fold (stateAt, indexAtTime) gives the latest state.
 */
import { describe, expect, it } from 'vitest';
import { parseTour, serializeTour, validateTour, TOUR_SCHEMA_VERSION, type Tour } from '../../client/state/tour-schema.js';
import {
  indexAtTime, parseRecording, serializeRecording, stateAt, validateRecording, type RecordedEvent,
} from '../../client/state/tour-recording-schema.js';

const validTour = (): Tour => ({
  schemaVersion: 1,
  kind: 'circuits-xr-tour',
  title: 'A test tour',
  model: 'brown-gpt2',
  beats: [
    { caption: 'First, the prompt.', view: { prompt: ' a b c a b', action: 'run', position: 4 } },
    {
      caption: 'Then a head.',
      view: { prompt: ' a b c a b', action: 'trace', target: ' c', distractor: ' a', position: 4, neuron: { layer: 1, neuron: 7 }, head: { layer: 1, head: 4 }, tab: 'circuit', pins: ['0_1_2'], nodeThreshold: 0.5, edgeThreshold: 0.9, maxNodes: 100, supernodes: [['group', 'x', 'y']] },
      camera: { position: [1, 2, 3], target: [0, 1, -4] },
    },
  ],
});

/** The errors for a tour changed by `edit`. */
function errorsFor(edit: (tour: Record<string, any>) => void): string[] {
  const tour = validTour() as unknown as Record<string, any>;
  edit(tour);
  const result = validateTour(tour);
  expect(result.ok).toBe(false);
  return result.ok ? [] : result.errors;
}

describe('tour schema', () => {
  it('accepts a valid tour and round-trips it through serializeTour/parseTour', () => {
    const tour = validTour();
    expect(validateTour(tour)).toEqual({ ok: true, value: tour });
    const text = serializeTour(tour);
    const parsed = parseTour(text);
    expect(parsed).toEqual({ ok: true, value: tour });
    expect(JSON.parse(text).schemaVersion).toBe(TOUR_SCHEMA_VERSION);
  });

  it('refuses a file that is not JSON, or not a tour', () => {
    const notJson = parseTour('{ "beats": [');
    expect(notJson.ok).toBe(false);
    if (!notJson.ok) expect(notJson.errors[0]).toMatch(/^not JSON/);
    expect(errorsFor((t) => { t.kind = 'circuits-xr-recording'; })[0]).toMatch(/^kind must be "circuits-xr-tour": this is not a tour file/);
    const array = validateTour([1, 2]);
    expect(array.ok).toBe(false);
  });

  it('refuses a tour from a newer schema version, saying so', () => {
    const errors = errorsFor((t) => { t.schemaVersion = TOUR_SCHEMA_VERSION + 1; });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(new RegExp(`schemaVersion ${TOUR_SCHEMA_VERSION + 1} is newer than this app understands \\(${TOUR_SCHEMA_VERSION}\\).*update the app`));
    expect(errorsFor((t) => { t.schemaVersion = 0; })[0]).toMatch(/^schemaVersion must be a positive integer/);
    expect(errorsFor((t) => { delete t.schemaVersion; })[0]).toMatch(/^schemaVersion must be a positive integer \(got nothing\)/);
  });

  const cases: [string, (t: Record<string, any>) => void, RegExp][] = [
    ['missing title', (t) => { delete t.title; }, /^title must be a non-empty string/],
    ['beats not a list', (t) => { t.beats = {}; }, /^beats must be a list of beats/],
    ['no beats', (t) => { t.beats = []; }, /^beats is empty/],
    ['empty caption', (t) => { t.beats[0].caption = '  '; }, /^beats\[0\]\.caption must be a non-empty string/],
    ['negative position', (t) => { t.beats[0].view.position = -1; }, /^beats\[0\]\.view\.position must be an integer ≥ 0 \(got -1\)/],
    ['fractional position', (t) => { t.beats[1].view.position = 1.5; }, /^beats\[1\]\.view\.position must be an integer/],
    ['unknown action', (t) => { t.beats[0].view.action = 'explode'; }, /^beats\[0\]\.view\.action must be one of "run", "explain", "trace" \(got "explode"\)/],
    ['action without prompt', (t) => { delete t.beats[0].view.prompt; }, /^beats\[0\]\.view\.action "run" needs a prompt/],
    ['neuron without its index', (t) => { t.beats[1].view.neuron = { layer: 1 }; }, /^beats\[1\]\.view\.neuron\.neuron is missing/],
    ['head as a string', (t) => { t.beats[1].view.head = 'L1H4'; }, /^beats\[1\]\.view\.head must be an object \{ layer, head \}/],
    ['threshold over 1', (t) => { t.beats[1].view.nodeThreshold = 2; }, /^beats\[1\]\.view\.nodeThreshold must be a number from 0 to 1 \(got 2\)/],
    ['maxNodes out of range', (t) => { t.beats[1].view.maxNodes = 0; }, /^beats\[1\]\.view\.maxNodes must be an integer from 1 to 2000/],
    ['pins not strings', (t) => { t.beats[1].view.pins = [3]; }, /^beats\[1\]\.view\.pins must be a list of node ids/],
    ['bad tab', (t) => { t.beats[1].view.tab = 'graph'; }, /^beats\[1\]\.view\.tab must be one of/],
    ['supernode with one id', (t) => { t.beats[1].view.supernodes = [['g', 'x']]; }, /^beats\[1\]\.view\.supernodes\[0\] must be a label then at least two node ids/],
    ['camera vector too short', (t) => { t.beats[1].camera.position = [1, 2]; }, /^beats\[1\]\.camera\.position must be three finite numbers/],
    ['camera with extra field', (t) => { t.beats[1].camera.fov = 60; }, /^beats\[1\]\.camera\.fov is not a known field/],
    ['misspelt view field', (t) => { t.beats[0].view.promt = 'x'; }, /^beats\[0\]\.view\.promt is not a known field \(known: prompt, /],
    ['misspelt beat field', (t) => { t.beats[0].captoin = 'x'; }, /^beats\[0\]\.captoin is not a known field/],
    ['view missing', (t) => { delete t.beats[0].view; }, /^beats\[0\]\.view must be an object of view fields/],
  ];
  for (const [name, edit, expected] of cases) {
    it(`refuses ${name}, naming the field`, () => {
      const errors = errorsFor(edit);
      expect(errors.some((e) => expected.test(e)), errors.join('\n')).toBe(true);
    });
  }

  it('reports every problem, not only the first', () => {
    const errors = errorsFor((t) => {
      t.beats[0].view.position = -2;
      t.beats[1].caption = '';
      t.title = '';
    });
    expect(errors).toHaveLength(3);
  });
});

describe('recording schema', () => {
  const events: RecordedEvent[] = [
    { t: 0, kind: 'view', view: { prompt: ' a b', action: 'run', position: 0 } },
    { t: 100, kind: 'camera', camera: { position: [0, 1, 2], target: [0, 0, 0] } },
    { t: 250, kind: 'caption', caption: 'Look here' },
    { t: 400, kind: 'view', view: { prompt: ' a b', action: 'run', position: 1 }, source: 'room' },
    { t: 400, kind: 'camera', camera: { position: [1, 1, 2], target: [0, 0, 0] } },
  ];
  const recording = { startedAt: '2026-12-03T08:00:00.000Z', model: 'brown-gpt2', events };

  it('accepts a valid recording and round-trips it', () => {
    const parsed = parseRecording(serializeRecording(recording));
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(parsed.value.events).toEqual(events);
  });

  it('refuses bad events with the field named, and a newer version', () => {
    const bad = JSON.parse(serializeRecording(recording));
    bad.events[1].t = -5;
    bad.events[3].view.position = 'two';
    bad.events[2].kind = 'sound';
    const result = validateRecording(bad);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.errors).toContain('events[1].t must be milliseconds from the start (a number ≥ 0) (got -5)');
      expect(result.errors.some((e) => e.startsWith('events[3].view.position must be an integer ≥ 0'))).toBe(true);
      expect(result.errors.some((e) => e.startsWith('events[2].kind must be one of "view", "camera", "caption"'))).toBe(true);
    }
    const outOfOrder = JSON.parse(serializeRecording(recording));
    outOfOrder.events[2].t = 50;
    const ordered = validateRecording(outOfOrder);
    expect(ordered.ok).toBe(false);
    if (!ordered.ok) expect(ordered.errors[0]).toMatch(/^events\[2\]\.t must not be earlier than the event before it \(100 ms\)/);
    const future = validateRecording({ ...JSON.parse(serializeRecording(recording)), schemaVersion: 9 });
    expect(future.ok).toBe(false);
    if (!future.ok) expect(future.errors[0]).toMatch(/schemaVersion 9 is newer than this app understands \(1\): this recording/);
    const tourAsRecording = parseRecording(serializeTour(validTour()));
    expect(tourAsRecording.ok).toBe(false);
  });

  it('folds the log: the latest view, camera and caption at each event', () => {
    expect(stateAt(events, -1)).toEqual({ view: null, camera: null, caption: null });
    expect(stateAt(events, 0).view?.position).toBe(0);
    expect(stateAt(events, 2)).toEqual({ view: events[0]!.kind === 'view' ? events[0]!.view : null, camera: { position: [0, 1, 2], target: [0, 0, 0] }, caption: 'Look here' });
    const last = stateAt(events, 4);
    expect(last.view?.position).toBe(1);
    expect(last.camera?.position).toEqual([1, 1, 2]);
    expect(stateAt(events, 99)).toEqual(last);
  });

  it('finds the event at a time (for the jump slider)', () => {
    expect(indexAtTime(events, -1)).toBe(-1);
    expect(indexAtTime(events, 0)).toBe(0);
    expect(indexAtTime(events, 249)).toBe(1);
    expect(indexAtTime(events, 400)).toBe(4);
    expect(indexAtTime(events, 1e9)).toBe(4);
    expect(indexAtTime([], 10)).toBe(-1);
  });
});
