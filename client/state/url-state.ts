/**
 * The view as a link: the question (prompt, target, distractor), what was last done with it
 * (run, explain, trace), the shown position, the selected neuron, the analysis tab and measures,
 * the circuit's pins, supernodes (named groups, `sn`: JSON [[label, ...node ids], ...]), node
 * budget and pruning thresholds live in the page's query string, so a reload or a shared link
 * restores the view. `encodeViewState`/`decodeViewState` are pure (unit tested);
 * client/ui/view-session.ts keeps the address bar current (replaceState, debounced).
 */

export type ViewAction = 'run' | 'explain' | 'trace';

export interface ViewState {
  prompt?: string;
  target?: string;
  distractor?: string;
  action?: ViewAction;
  position?: number;
  neuron?: { layer: number; neuron: number };
  tab?: 'effects' | 'neurons' | 'circuit';
  neuronMeasure?: 'direct' | 'total';
  tokenMeasure?: 'gradXInput' | 'occlusion';
  pins?: string[];
  /** Named groups of circuit nodes drawn as one: [label, ...node ids]. */
  supernodes?: string[][];
  maxNodes?: number;
  nodeThreshold?: number;
  edgeThreshold?: number;
}

/** Query keys this module owns; anything else in the query (e.g. `xr-emulate`) is kept. */
const keys = ['p', 't', 'd', 'do', 'pos', 'n', 'tab', 'nm', 'tm', 'pins', 'sn', 'mn', 'nt', 'et'] as const;

const finite = (text: string | null, min: number, max: number): number | undefined => {
  if (text === null || text.trim() === '') return undefined;
  const value = Number(text);
  return Number.isFinite(value) && value >= min && value <= max ? value : undefined;
};

/** At most this many groups of this many members are read from a link (a link is typed by anyone). */
const maxGroups = 64;
const maxGroupSize = 256;

/** `[[label, ...ids], ...]` from JSON; anything else (or a group without a label and two ids) is dropped. */
function decodeSupernodes(text: string | null): string[][] | undefined {
  if (!text) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const groups = parsed
    .filter((group): group is string[] => Array.isArray(group) && group.length >= 3 && group.length <= maxGroupSize + 1 && group.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 200))
    .slice(0, maxGroups);
  return groups.length > 0 ? groups : undefined;
}

const oneOf = <T extends string>(text: string | null, options: readonly T[]): T | undefined =>
  options.includes(text as T) ? (text as T) : undefined;

export function decodeViewState(search: string): ViewState {
  const params = new URLSearchParams(search);
  const state: ViewState = {};
  if (params.has('p')) state.prompt = params.get('p')!;
  if (params.has('t')) state.target = params.get('t')!;
  if (params.has('d')) state.distractor = params.get('d')!;
  state.action = oneOf(params.get('do'), ['run', 'explain', 'trace'] as const);
  const position = finite(params.get('pos'), 0, 1e6);
  if (position !== undefined) state.position = Math.floor(position);
  const neuron = /^(\d+)\.(\d+)$/.exec(params.get('n') ?? '');
  if (neuron) state.neuron = { layer: Number(neuron[1]), neuron: Number(neuron[2]) };
  state.tab = oneOf(params.get('tab'), ['effects', 'neurons', 'circuit'] as const);
  state.neuronMeasure = oneOf(params.get('nm'), ['direct', 'total'] as const);
  state.tokenMeasure = oneOf(params.get('tm'), ['gradXInput', 'occlusion'] as const);
  const pins = params.get('pins');
  if (pins) state.pins = pins.split(',').filter((id) => id.length > 0);
  state.supernodes = decodeSupernodes(params.get('sn'));
  const maxNodes = finite(params.get('mn'), 1, 2000);
  if (maxNodes !== undefined) state.maxNodes = Math.round(maxNodes);
  state.nodeThreshold = finite(params.get('nt'), 0, 1);
  state.edgeThreshold = finite(params.get('et'), 0, 1);
  for (const key of Object.keys(state) as (keyof ViewState)[]) if (state[key] === undefined) delete state[key];
  return state;
}

/** The query string for `state`, keeping the parameters of `base` this module does not own. */
export function encodeViewState(state: ViewState, base = ''): string {
  const params = new URLSearchParams(base);
  for (const key of keys) params.delete(key);
  if (state.prompt !== undefined) params.set('p', state.prompt);
  if (state.target !== undefined) params.set('t', state.target);
  if (state.distractor !== undefined) params.set('d', state.distractor);
  if (state.action) params.set('do', state.action);
  if (state.position !== undefined) params.set('pos', String(state.position));
  if (state.neuron) params.set('n', `${state.neuron.layer}.${state.neuron.neuron}`);
  if (state.tab) params.set('tab', state.tab);
  if (state.neuronMeasure) params.set('nm', state.neuronMeasure);
  if (state.tokenMeasure) params.set('tm', state.tokenMeasure);
  if (state.pins && state.pins.length > 0) params.set('pins', state.pins.join(','));
  if (state.supernodes && state.supernodes.length > 0) params.set('sn', JSON.stringify(state.supernodes));
  if (state.maxNodes !== undefined) params.set('mn', String(state.maxNodes));
  if (state.nodeThreshold !== undefined) params.set('nt', String(Math.round(state.nodeThreshold * 1000) / 1000));
  if (state.edgeThreshold !== undefined) params.set('et', String(Math.round(state.edgeThreshold * 10000) / 10000));
  const text = params.toString();
  return text ? `?${text}` : '';
}
