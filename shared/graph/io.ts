/**
 * Import, export and an index view of attribution graph JSON (schema.ts).
 * - `importGraph` checks the shape at run time, names the bad field's path and what was expected,
 *   keeps known fields, ignores unknown ones, and tolerates circuit-tracer's quirks (nulls, numeric
 *   layers, missing jsNodeId/clerp/token_prob, extra fields).
 * - `exportGraph` writes fields in a fixed order, one node / link per line, so
 *   export → import → export is byte-identical.
 * - `graphIndex` gives algorithms dense node indices and typed-array edge lists.
 * Browser-safe: no Node modules.
 */
import {
  defaultQueryParams, nodeKind,
  type AttributionGraph, type GraphInfo, type GraphLink, type GraphMetadata, type GraphNode,
  type GraphQueryParams, type NodeKind,
} from './schema.js';

/** A bad graph JSON: `path` names the field (`nodes[3].ctx_idx`), the message says what is wrong. */
export class GraphImportError extends Error {
  constructor(readonly path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = 'GraphImportError';
  }

  static expected(path: string, what: string, got: unknown): GraphImportError {
    return new GraphImportError(path, `expected ${what}, got ${describe(got)}`);
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return `${typeof value} ${text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
}

type Json = Record<string, unknown>;

function object(value: unknown, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw GraphImportError.expected(path, 'an object', value);
  return value as Json;
}
function array(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw GraphImportError.expected(path, 'an array', value);
  return value;
}
function string(value: unknown, path: string): string {
  if (typeof value !== 'string') throw GraphImportError.expected(path, 'a string', value);
  return value;
}
function number(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw GraphImportError.expected(path, 'a finite number', value);
  return value;
}
function integer(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw GraphImportError.expected(path, 'an integer', value);
  return value;
}
function boolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw GraphImportError.expected(path, 'a boolean', value);
  return value;
}
function strings(value: unknown, path: string): string[] {
  return array(value, path).map((item, i) => string(item, `${path}[${i}]`));
}
/** Reads an optional field: undefined (and null, for optional fields) stay absent. */
function optional<T>(source: Json, key: string, path: string, read: (value: unknown, path: string) => T): T | undefined {
  const value = source[key];
  return value === undefined || value === null ? undefined : read(value, `${path}.${key}`);
}
function nullableNumber(value: unknown, path: string): number | null {
  return value === undefined || value === null ? null : number(value, path);
}
/** Drops undefined values so optional fields stay absent rather than present-but-undefined. */
function compact<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] === undefined) delete value[key];
  return value;
}

function readInfo(value: unknown, path: string): GraphInfo {
  const info = object(value, path);
  const generator = optional(info, 'generator', path, (g, p) => {
    const o = object(g, p);
    return compact({ name: optional(o, 'name', p, string), version: optional(o, 'version', p, string), url: optional(o, 'url', p, string) });
  });
  return compact({
    creator: optional(info, 'creator', path, string),
    creator_name: optional(info, 'creator_name', path, string),
    creator_url: optional(info, 'creator_url', path, string),
    source_urls: optional(info, 'source_urls', path, strings),
    transcoder_set: optional(info, 'transcoder_set', path, string),
    generator,
    create_time_ms: optional(info, 'create_time_ms', path, number),
  });
}

function readMetadata(value: unknown): GraphMetadata {
  const path = 'metadata';
  const m = object(value, path);
  const numbers = (keys: string[]) => (v: unknown, p: string) => {
    const o = object(v, p);
    return compact(Object.fromEntries(keys.map((k) => [k, optional(o, k, p, number)])));
  };
  const question = (v: unknown, p: string) => {
    const o = object(v, p);
    return { id: integer(o.id, `${p}.id`), text: string(o.text, `${p}.text`) };
  };
  return compact({
    slug: string(m.slug, `${path}.slug`),
    scan: m.scan === null ? '' : string(m.scan, `${path}.scan`),
    prompt: string(m.prompt, `${path}.prompt`),
    prompt_tokens: strings(m.prompt_tokens, `${path}.prompt_tokens`),
    transcoder_list: optional(m, 'transcoder_list', path, strings),
    node_threshold: optional(m, 'node_threshold', path, number),
    info: optional(m, 'info', path, readInfo),
    generation_settings: optional(m, 'generation_settings', path, numbers(['max_n_logits', 'desired_logit_prob', 'batch_size', 'max_feature_nodes'])),
    pruning_settings: optional(m, 'pruning_settings', path, numbers(['node_threshold', 'edge_threshold'])),
    schema_version: optional(m, 'schema_version', path, number),
    target: optional(m, 'target', path, question),
    distractor: optional(m, 'distractor', path, question),
    logit_diff: optional(m, 'logit_diff', path, number),
    replacement_score: optional(m, 'replacement_score', path, number),
    completeness_score: optional(m, 'completeness_score', path, number),
  });
}

function readQueryParams(value: unknown): GraphQueryParams {
  const defaults = defaultQueryParams();
  if (value === undefined || value === null) return defaults;
  const path = 'qParams';
  const q = object(value, path);
  const text = (key: 'linkType' | 'clickedId' | 'sg_pos') => (q[key] === undefined || q[key] === null ? defaults[key] : string(q[key], `${path}.${key}`));
  return {
    pinnedIds: q.pinnedIds === undefined ? [] : strings(q.pinnedIds, `${path}.pinnedIds`),
    supernodes: q.supernodes === undefined ? [] : array(q.supernodes, `${path}.supernodes`).map((s, i) => strings(s, `${path}.supernodes[${i}]`)),
    linkType: text('linkType'),
    clickedId: text('clickedId'),
    sg_pos: text('sg_pos'),
  };
}

function readNode(value: unknown, path: string): GraphNode {
  const n = object(value, path);
  const nodeId = string(n.node_id, `${path}.node_id`);
  if (nodeId === '') throw GraphImportError.expected(`${path}.node_id`, 'a non-empty string', nodeId);
  // circuit-tracer writes layer as a string even for numbers; accept a number and store its text.
  const layer = typeof n.layer === 'number' ? String(integer(n.layer, `${path}.layer`)) : string(n.layer, `${path}.layer`);
  const ctxIdx = integer(n.ctx_idx, `${path}.ctx_idx`);
  if (ctxIdx < 0) throw GraphImportError.expected(`${path}.ctx_idx`, 'a non-negative integer', ctxIdx);
  return compact({
    node_id: nodeId,
    feature: integer(n.feature, `${path}.feature`),
    layer,
    ctx_idx: ctxIdx,
    feature_type: string(n.feature_type, `${path}.feature_type`),
    jsNodeId: n.jsNodeId === undefined || n.jsNodeId === null ? nodeId : string(n.jsNodeId, `${path}.jsNodeId`),
    clerp: n.clerp === undefined || n.clerp === null ? '' : string(n.clerp, `${path}.clerp`),
    influence: nullableNumber(n.influence, `${path}.influence`),
    activation: nullableNumber(n.activation, `${path}.activation`),
    token_prob: n.token_prob === undefined || n.token_prob === null ? 0 : number(n.token_prob, `${path}.token_prob`),
    is_target_logit: n.is_target_logit === undefined || n.is_target_logit === null ? false : boolean(n.is_target_logit, `${path}.is_target_logit`),
    run_idx: optional(n, 'run_idx', path, integer),
    reverse_ctx_idx: optional(n, 'reverse_ctx_idx', path, integer),
    actual: optional(n, 'actual', path, number),
    constant: optional(n, 'constant', path, number),
  });
}

/**
 * Validates and normalises a graph JSON value (or its text). Throws GraphImportError naming the
 * path of the first bad field (`nodes[3].ctx_idx: expected an integer, got string "2"`), a
 * duplicate node id, or a link to a node that does not exist.
 */
export function importGraph(json: unknown): AttributionGraph {
  let value = json;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch (error) {
      throw GraphImportError.expected('(root)', 'JSON text', `unparseable text (${(error as Error).message})`);
    }
  }
  const root = object(value, '(root)');
  const metadata = readMetadata(root.metadata);
  const qParams = readQueryParams(root.qParams);
  const nodes = array(root.nodes, 'nodes').map((n, i) => readNode(n, `nodes[${i}]`));
  const firstIndex = new Map<string, number>();
  nodes.forEach((node, i) => {
    const before = firstIndex.get(node.node_id);
    if (before !== undefined) throw new GraphImportError(`nodes[${i}].node_id`, `duplicate node id "${node.node_id}" (first at nodes[${before}])`);
    firstIndex.set(node.node_id, i);
  });
  const rawLinks = array(root.links, 'links');
  const links: GraphLink[] = new Array(rawLinks.length);
  for (let k = 0; k < rawLinks.length; k++) {
    const path = `links[${k}]`;
    const l = object(rawLinks[k], path);
    const source = string(l.source, `${path}.source`);
    const target = string(l.target, `${path}.target`);
    if (!firstIndex.has(source)) throw new GraphImportError(`${path}.source`, `no node has id "${source}"`);
    if (!firstIndex.has(target)) throw new GraphImportError(`${path}.target`, `no node has id "${target}"`);
    links[k] = { source, target, weight: number(l.weight, `${path}.weight`) };
  }
  return { metadata, qParams, nodes, links };
}

// Fixed key orders for export: the order of the schema's interfaces.
const METADATA_KEYS = ['slug', 'scan', 'prompt', 'prompt_tokens', 'transcoder_list', 'node_threshold', 'info', 'generation_settings', 'pruning_settings', 'schema_version', 'target', 'distractor', 'logit_diff', 'replacement_score', 'completeness_score'] as const;
const INFO_KEYS = ['creator', 'creator_name', 'creator_url', 'source_urls', 'transcoder_set', 'generator', 'create_time_ms'] as const;
const GENERATOR_KEYS = ['name', 'version', 'url'] as const;
const GENERATION_KEYS = ['max_n_logits', 'desired_logit_prob', 'batch_size', 'max_feature_nodes'] as const;
const PRUNING_KEYS = ['node_threshold', 'edge_threshold'] as const;
const QUESTION_KEYS = ['id', 'text'] as const;
const QPARAM_KEYS = ['pinnedIds', 'supernodes', 'linkType', 'clickedId', 'sg_pos'] as const;
const NODE_KEYS = ['node_id', 'feature', 'layer', 'ctx_idx', 'feature_type', 'jsNodeId', 'clerp', 'influence', 'activation', 'token_prob', 'is_target_logit', 'run_idx', 'reverse_ctx_idx', 'actual', 'constant'] as const;

function ordered(value: object | undefined, keys: readonly string[], nested: Record<string, readonly string[]> = {}): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const v = source[key];
    if (v === undefined) continue;
    const inner = nested[key];
    out[key] = inner && typeof v === 'object' && v !== null ? ordered(v, inner) : v;
  }
  return out;
}

/** Deterministic JSON text: fixed key order, one node and one link per line. */
export function exportGraph(graph: AttributionGraph): string {
  const metadata = ordered(graph.metadata, METADATA_KEYS, {
    generation_settings: GENERATION_KEYS, pruning_settings: PRUNING_KEYS, target: QUESTION_KEYS, distractor: QUESTION_KEYS,
  })!;
  if (graph.metadata.info) metadata.info = ordered(graph.metadata.info, INFO_KEYS, { generator: GENERATOR_KEYS });
  const nodes = graph.nodes.map((n) => JSON.stringify(ordered(n, NODE_KEYS)));
  const links = graph.links.map((l) => JSON.stringify({ source: l.source, target: l.target, weight: l.weight }));
  const list = (items: string[]) => (items.length === 0 ? '[]' : `[\n${items.join(',\n')}\n]`);
  return [
    '{',
    `"metadata": ${JSON.stringify(metadata)},`,
    `"qParams": ${JSON.stringify(ordered(graph.qParams, QPARAM_KEYS))},`,
    `"nodes": ${list(nodes)},`,
    `"links": ${list(links)}`,
    '}',
    '',
  ].join('\n');
}

/** Dense-index view of a graph for algorithms. Edge k is links[k]. */
export interface GraphIndex {
  nodeIds: string[];
  indexOf: Map<string, number>;
  kinds: NodeKind[];
  /** token_prob per node (0 where absent). */
  tokenProbs: Float64Array; // [N]
  logitIndices: Int32Array;
  embeddingIndices: Int32Array;
  edgeSources: Int32Array; // [E]
  edgeTargets: Int32Array; // [E]
  edgeWeights: Float64Array; // [E]
}

export function graphIndex(graph: AttributionGraph): GraphIndex {
  const n = graph.nodes.length;
  const nodeIds = graph.nodes.map((node) => node.node_id);
  const indexOf = new Map<string, number>();
  nodeIds.forEach((id, i) => indexOf.set(id, i));
  const kinds = graph.nodes.map(nodeKind);
  const tokenProbs = Float64Array.from(graph.nodes, (node) => node.token_prob ?? 0);
  const indicesOf = (kind: NodeKind) => Int32Array.from(kinds.flatMap((k, i) => (k === kind ? [i] : [])));
  const e = graph.links.length;
  const edgeSources = new Int32Array(e);
  const edgeTargets = new Int32Array(e);
  const edgeWeights = new Float64Array(e);
  for (let k = 0; k < e; k++) {
    const link = graph.links[k]!;
    const s = indexOf.get(link.source);
    const t = indexOf.get(link.target);
    if (s === undefined) throw new Error(`links[${k}].source: no node has id "${link.source}"`);
    if (t === undefined) throw new Error(`links[${k}].target: no node has id "${link.target}"`);
    edgeSources[k] = s;
    edgeTargets[k] = t;
    edgeWeights[k] = link.weight;
  }
  if (indexOf.size !== n) throw new Error('graphIndex: duplicate node ids');
  return { nodeIds, indexOf, kinds, tokenProbs, logitIndices: indicesOf('logit'), embeddingIndices: indicesOf('embedding'), edgeSources, edgeTargets, edgeWeights };
}
