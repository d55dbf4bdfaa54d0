/**
 * Where the 2D circuit view draws each view node (Neuronpedia's anchor: a layer × position
 * grid). Rows bottom to top: embeddings, each layer present in the view, logits; supernodes sit
 * on their members' mean layer. Columns: prompt positions, each as wide as its busiest cell
 * needs (a position with one node gets less room than one with six); nodes of one cell side by
 * side, most influential first. Pure: view in, pixel coordinates out.
 */
import type { ViewModel } from './circuit-view.js';

export interface Layout2D {
  width: number;
  height: number;
  /** [x, y] per view node. */
  points: Float32Array;
  /** Room for each node's label (pixels across). */
  labelRoom: Float32Array;
  /** 1: label below the node, 0: above (crowded cells alternate, doubling each label's room). */
  labelBelow: Uint8Array;
  rows: { label: string; y: number }[];
  columns: { position: number; x: number; width: number }[];
}

export const margins = { left: 46, right: 10, top: 16, bottom: 30 };

export function layout2D(view: ViewModel, tokenCount: number, width: number, height: number): Layout2D {
  const rowKeys = new Set<number>();
  for (const node of view.nodes) rowKeys.add(node.kind === 'group' ? Math.round(node.layer * 2) / 2 : node.layer);
  const sortedRows = [...rowKeys].sort((a, b) => a - b);
  const rowOf = new Map(sortedRows.map((key, r) => [key, r]));
  const positions = Math.max(1, tokenCount);
  const cells = new Map<string, number[]>();
  const rowKeyOf = (v: number) => {
    const node = view.nodes[v]!;
    return node.kind === 'group' ? Math.round(node.layer * 2) / 2 : node.layer;
  };
  view.nodes.forEach((node, v) => {
    const key = `${rowKeyOf(v)}|${Math.min(positions - 1, Math.max(0, Math.round(node.position)))}`;
    const list = cells.get(key) ?? [];
    list.push(v);
    cells.set(key, list);
  });
  const busiest = new Float64Array(positions).fill(1);
  for (const [key, list] of cells) {
    const p = Number(key.split('|')[1]);
    busiest[p] = Math.max(busiest[p]!, list.length);
  }
  // Columns: a share of the width growing with the busiest cell (power 0.75: a crowded cell gets
  // room, without squeezing every other column to nothing).
  const weights = Array.from(busiest, (b) => b ** 0.75);
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  const innerWidth = Math.max(60, width - margins.left - margins.right);
  const columns: Layout2D['columns'] = [];
  let x = margins.left;
  for (let p = 0; p < positions; p++) {
    const w = (innerWidth * weights[p]!) / totalWeight;
    columns.push({ position: p, x, width: w });
    x += w;
  }
  const innerHeight = Math.max(40, height - margins.top - margins.bottom);
  const rowCount = Math.max(1, sortedRows.length);
  const rowY = (r: number) => margins.top + innerHeight - (rowCount === 1 ? innerHeight / 2 : (r / (rowCount - 1)) * innerHeight);
  const rows = sortedRows.map((key, r) => ({
    label: key === -1 ? 'emb' : key === Infinity ? 'logit' : `L${key}`, // a supernode between layers: L1.5
    y: rowY(r),
  }));
  const points = new Float32Array(view.nodes.length * 2);
  const labelRoom = new Float32Array(view.nodes.length);
  const labelBelow = new Uint8Array(view.nodes.length).fill(1);
  for (const [key, list] of cells) {
    const [rowKey, p] = key.split('|');
    const r = rowOf.get(Number(rowKey))!;
    const column = columns[Number(p)]!;
    list.sort((a, b) => view.nodes[b]!.influence - view.nodes[a]!.influence);
    const step = column.width / list.length;
    list.forEach((v, j) => {
      points[v * 2] = column.x + step * (j + 0.5);
      points[v * 2 + 1] = rowY(r);
      // Crowded: alternate below / above, so the nearest label on the same side is two steps away.
      const alternate = step < 64 && list.length > 1;
      labelBelow[v] = alternate ? (j % 2 === 0 ? 1 : 0) : 1;
      labelRoom[v] = alternate ? step * 2 : step;
    });
  }
  return { width, height, points, labelRoom, labelBelow, rows, columns };
}
