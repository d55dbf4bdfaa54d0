/**
 * The circuit as a 2D graph beside the 3D scene (Neuronpedia's anchor: a layer × position grid):
 * the same subgraph the 3D paths draw (circuit-view.ts), each node labelled (the token for
 * embeddings, `L1/N219` and what the neuron does for neurons, "other L0" for the aggregates,
 * drawn as grey diamonds like error nodes), links as curves whose width is |weight| and colour
 * its sign (the shared diverging scale: orange raises, blue lowers). Hover shows a card
 * (activation, influence, explanation, pin, top examples, and the attention heads that move the
 * node's inputs across positions: circuit-heads.ts; clicking one shows its pattern in the grid
 * and as arcs from the node's token in 3D); click selects (the 3D scene and the neuron panel
 * follow); shift-click pins. SVG: a few hundred elements at most, by the budget.
 */
import { useMemo, useState, type MouseEvent } from 'react';
import { nodeKind } from '../../../shared/graph/schema.js';
import { useAppServices } from '../../state/app-context.js';
import { choosePosition, selectNeuron, useAppStore } from '../../state/app-store.js';
import { colourAt } from '../../scene/colour-scale.js';
import { useAnalysis } from '../state/analysis-services.js';
import { useAnalysisStore } from '../state/analysis-store.js';
import { layout2D } from '../state/circuit-2d-layout.js';
import { buildView, longLabel, type ViewModel, type ViewNode } from '../state/circuit-view.js';
import { headsIntoNode, type HeadInto } from '../state/circuit-heads.js';
import { togglePin } from '../state/circuit.js';

const css = (t: number) => {
  const [r, g, b] = colourAt(t);
  return `rgb(${Math.round(r * 255)},${Math.round(g * 255)},${Math.round(b * 255)})`;
};

function fit(text: string, room: number, charPixels: number): string {
  const chars = Math.max(0, Math.floor(room / charPixels));
  if (text.length <= chars) return text;
  return chars <= 1 ? '' : `${text.slice(0, chars - 1)}…`;
}

function NodeShape({ node, x, y, r, fill }: { node: ViewNode; x: number; y: number; r: number; fill: string }) {
  switch (node.kind) {
    case 'embedding':
      return <rect x={x - r} y={y - r} width={2 * r} height={2 * r} rx={2} fill="#e8eaf1" />;
    case 'logit':
      return <rect x={x - r * 1.5} y={y - r} width={3 * r} height={2 * r} rx={r} fill="#61e07f" />;
    case 'error':
      return <polygon points={`${x},${y - r} ${x + r},${y} ${x},${y + r} ${x - r},${y}`} fill="#8c94a6" />;
    case 'group':
      return <rect x={x - r * 2} y={y - r * 1.2} width={4 * r} height={2.4 * r} rx={4} fill={fill} stroke="#ffd27a" strokeWidth={1.5} />;
    default:
      return <circle cx={x} cy={y} r={r} fill={fill} />;
  }
}

export function Circuit2D({ width, height }: { width: number; height: number }) {
  const { app, activations } = useAppServices();
  const { store } = useAnalysis();
  const model = useAppStore(app, (s) => s.model);
  const railTokens = useAppStore(app, (s) => s.tokens);
  useAppStore(app, (s) => s.framesReady); // the heads' scores read the attention rows as they arrive
  const graph = useAnalysisStore(store, (s) => s.graph);
  const index = useAnalysisStore(store, (s) => s.graphIndex);
  const prune = useAnalysisStore(store, (s) => s.prune);
  const source = useAnalysisStore(store, (s) => s.graphSource);
  const supernodes = useAnalysisStore(store, (s) => s.supernodes);
  const pinnedIds = useAnalysisStore(store, (s) => s.pinnedIds);
  const highlight = useAnalysisStore(store, (s) => s.highlight);
  const hoverNodeId = useAnalysisStore(store, (s) => s.hoverNodeId);
  const notes = useAnalysisStore(store, (s) => s.neuronNotes);
  const [inspected, setInspected] = useState<string | null>(null);

  const view = useMemo<ViewModel | null>(() => (graph && index && prune ? buildView(graph, index, prune, supernodes) : null), [graph, index, prune, supernodes]);
  const tokenCount = graph ? Math.max(graph.metadata.prompt_tokens.length, ...graph.nodes.map((n) => n.ctx_idx + 1)) : 1;
  const layout = useMemo(() => (view ? layout2D(view, tokenCount, width, height) : null), [view, tokenCount, width, height]);
  if (!graph || !index || !prune || !view || !layout) return null;

  const pinned = new Set(pinnedIds);
  const hasEmbeddings = view.nodes.some((n) => n.kind === 'embedding');
  const focusViews = new Set(highlight.focusIds.map((id) => view.viewOf[index.indexOf.get(id) ?? -1] ?? -1));
  const hoverView = hoverNodeId ? view.nodes.findIndex((n) => n.id === hoverNodeId) : -1;
  const focused = highlight.count > 0 && highlight.linkMask.length === prune.keptLinkIndices.length;
  const noteFor = (node: ViewNode) => {
    if (node.kind !== 'feature' || source?.kind !== 'traced') return '';
    const g = graph.nodes[node.members[0]!]!;
    return notes[`${g.layer}/${g.feature}`] ?? '';
  };
  const isModelNeuron = (node: ViewNode) => {
    if (node.kind !== 'feature' || source?.kind !== 'traced' || !model) return false;
    const g = graph.nodes[node.members[0]!]!;
    const layer = Number(g.layer);
    return g.feature_type === 'mlp neuron' && layer < model.nLayers && g.feature < model.neuronsPerLayer;
  };
  const select = (node: ViewNode) => {
    const g = graph.nodes[node.members[0]!]!;
    if (isModelNeuron(node)) {
      store.setState({ focusNodeId: null });
      selectNeuron(app, { layer: Number(g.layer), neuron: g.feature });
    } else {
      selectNeuron(app, null);
      store.setState({ focusNodeId: node.kind === 'group' ? node.id : g.node_id });
    }
  };
  const onNodeClick = (node: ViewNode) => (event: MouseEvent) => {
    event.stopPropagation();
    setInspected(node.id);
    if (event.shiftKey && node.kind !== 'group') togglePin(store, node.id);
    else select(node);
  };
  // The rail shows this graph's prompt (every embedding's token id at its position): its
  // attention rows are the ones the graph was traced with.
  const railMatches = railTokens.length >= tokenCount && graph.nodes.every((n) => n.feature_type !== 'embedding' || railTokens[n.ctx_idx]?.id === n.feature);
  const headsOf = (node: ViewNode): HeadInto[] | null =>
    !model || !railMatches ? null : headsIntoNode(graph, index, node.members, (q, layer, head) => activations.attentionRow(q, layer, head), model);
  const showHead = (node: ViewNode, head: HeadInto) => {
    store.setState({ selectedHead: { layer: head.layer, head: head.head } });
    // The arcs in 3D draw the shown position's row: the node's own token.
    choosePosition(app, graph.nodes[node.members[0]!]!.ctx_idx);
    setTimeout(() => document.querySelector('[data-testid=attention-grid]')?.scrollIntoView({ block: 'nearest' }), 50);
  };
  const cardNode = hoverView >= 0 ? view.nodes[hoverView]! : view.nodes.find((n) => n.id === inspected) ?? null;
  const cardIndex = cardNode ? view.nodes.indexOf(cardNode) : -1;

  return (
    <div className="circuit-2d" data-testid="circuit-2d" data-nodes={view.nodes.length} data-links={view.links.length} style={{ width, height }}>
      <svg width={width} height={height} onClick={() => setInspected(null)}>
        {layout.columns.map((column) => (
          <g key={column.position}>
            <line x1={column.x} x2={column.x} y1={4} y2={height - 24} className="grid" />
            {/* The embedding row already names the tokens; a foreign graph without one gets them here. */}
            {!hasEmbeddings && (
              <text x={column.x + column.width / 2} y={height - 8} className="axis" textAnchor="middle">
                {fit(graph.metadata.prompt_tokens[column.position]?.replace(/^ /, '·') ?? String(column.position), column.width - 2, 6.5)}
              </text>
            )}
          </g>
        ))}
        {layout.rows.map((row) => (
          <text key={row.label} x={4} y={row.y + 4} className="axis">{row.label}</text>
        ))}
        <g className="links">
          {view.links.map((link, k) => {
            const x1 = layout.points[link.source * 2]!;
            const y1 = layout.points[link.source * 2 + 1]!;
            const x2 = layout.points[link.target * 2]!;
            const y2 = layout.points[link.target * 2 + 1]!;
            const strength = view.maxAbsWeight > 0 ? Math.abs(link.weight) / view.maxAbsWeight : 1;
            const touchesHover = hoverView >= 0 && (link.source === hoverView || link.target === hoverView);
            const onPath = focused && link.rows.some((r) => highlight.linkMask[r] === 1);
            const dim = (hoverView >= 0 && !touchesHover) || (hoverView < 0 && focused && !onPath);
            const midY = (y1 + y2) / 2;
            return (
              <path
                key={k}
                d={`M${x1},${y1} C${x1},${midY} ${x2},${midY} ${x2},${y2}`}
                stroke={css(link.weight >= 0 ? 0.55 + 0.45 * Math.sqrt(strength) : -(0.55 + 0.45 * Math.sqrt(strength)))}
                strokeWidth={0.6 + 4.4 * strength}
                strokeOpacity={dim ? 0.08 : 0.35 + 0.6 * Math.sqrt(strength)}
                fill="none"
                data-weight={link.weight.toPrecision(4)}
              />
            );
          })}
        </g>
        <g className="nodes">
          {view.nodes.map((node, v) => {
            const x = layout.points[v * 2]!;
            const y = layout.points[v * 2 + 1]!;
            const share = view.maxInfluence > 0 ? Math.max(0, node.influence) / view.maxInfluence : 0;
            const r = node.kind === 'feature' || node.kind === 'error' ? 4 + 4 * Math.sqrt(share) : 6;
            const room = layout.labelRoom[v]!;
            const below = layout.labelBelow[v] === 1;
            const note = below && room > 70 ? noteFor(node) : '';
            return (
              <g
                key={node.id}
                className="node"
                data-testid="circuit-2d-node"
                data-node-id={node.id}
                data-kind={node.kind}
                onMouseEnter={() => store.setState({ hoverNodeId: node.id })}
                onMouseLeave={() => store.setState({ hoverNodeId: null })}
                onClick={onNodeClick(node)}
              >
                <circle cx={x} cy={y} r={r + 6} fill="transparent" />
                {pinned.has(node.id) && <circle cx={x} cy={y} r={r + 3} fill="none" stroke="#ffb347" strokeWidth={2} />}
                {focusViews.has(v) && <circle cx={x} cy={y} r={r + 5} fill="none" stroke="#ffffff" strokeWidth={2} />}
                <NodeShape node={node} x={x} y={y} r={r} fill={node.kind === 'group' ? '#3a2a14' : css(0.35 + 0.65 * Math.sqrt(share))} />
                <text x={x} y={below ? y + r + 11 : y - r - 4} textAnchor="middle" className={node.kind === 'error' ? 'label muted' : 'label'}>
                  {fit(node.label, Math.max(room - 2, 30), 6)}
                </text>
                {note && <text x={x} y={y + r + 21} textAnchor="middle" className="note">{fit(note, room - 4, 5.2)}</text>}
              </g>
            );
          })}
        </g>
      </svg>
      {cardNode && cardIndex >= 0 && (
        hoverCard({
          node: cardNode,
          x: layout.points[cardIndex * 2]!,
          y: layout.points[cardIndex * 2 + 1]!,
          width,
          note: noteFor(cardNode),
          pinned: pinned.has(cardNode.id),
          canExplain: isModelNeuron(cardNode),
          heads: cardNode.kind === 'embedding' || cardNode.kind === 'error' ? [] : headsOf(cardNode),
          onHead: (head) => showHead(cardNode, head),
          onPin: () => togglePin(store, cardNode.id),
          onExamples: () => {
            select(cardNode);
            // The details arrive a moment later: then bring their top examples into view.
            setTimeout(() => (document.querySelector('[data-testid=neuron-top-examples]') ?? document.querySelector('[data-testid=neuron-details]'))?.scrollIntoView({ block: 'nearest' }), 400);
          },
          onClose: () => setInspected(null),
        })
      )}
    </div>
  );

  // Called as a function, not a component: a component defined here would remount every render.
  function hoverCard(props: { node: ViewNode; x: number; y: number; width: number; note: string; pinned: boolean; canExplain: boolean; heads: HeadInto[] | null; onHead: (head: HeadInto) => void; onPin: () => void; onExamples: () => void; onClose: () => void }) {
    const { node } = props;
    const members = node.members.map((i) => graph!.nodes[i]!);
    const first = members[0]!;
    const kind = node.kind === 'group' ? 'group' : nodeKind(first);
    const cumulative = prune!.cumulativeInfluence.get(first.node_id);
    // Beside the node, never over it: below when the node is in the upper half, else above.
    const left = Math.min(Math.max(4, props.x - 118), props.width - 244);
    const place = props.y < height / 2 ? { top: props.y + 18 } : { bottom: height - props.y + 18 };
    return (
      <div className="circuit-card" data-testid="circuit-card" data-node-id={node.id} style={{ left, ...place }} onMouseEnter={() => store.setState({ hoverNodeId: node.id })} onMouseLeave={() => store.setState({ hoverNodeId: null })}>
        <b>{node.kind === 'group' ? `supernode “${node.label}”` : longLabel(first, graph!)}</b>
        <div className="muted mono">{node.kind === 'group' ? `${members.length} nodes: ${members.map((m) => m.node_id).join(', ')}` : first.node_id}</div>
        <table>
          <tbody>
            {kind === 'feature' && first.activation !== null && <tr><td>activation</td><td data-testid="card-activation">{first.activation.toPrecision(4)}</td></tr>}
            {kind !== 'logit' && <tr><td>influence on the logit</td><td data-testid="card-influence">{node.influence.toPrecision(3)}</td></tr>}
            {kind !== 'logit' && node.kind !== 'group' && cumulative !== undefined && <tr><td>cumulative share</td><td>{(cumulative * 100).toFixed(1)}%</td></tr>}
            {kind === 'logit' && <tr><td>probability</td><td>{first.token_prob.toFixed(3)}</td></tr>}
            {first.actual !== undefined && <tr><td>pre-activation</td><td>{first.actual.toPrecision(4)}</td></tr>}
          </tbody>
        </table>
        {props.note && <div className="note" data-testid="card-note">{props.note}</div>}
        {!props.note && kind === 'feature' && first.clerp && !/^blocks\./.test(first.clerp) && <div className="note">{first.clerp}</div>}
        {props.heads === null && <div className="muted" data-testid="card-heads-unknown">Run this prompt to see the attention heads that feed it.</div>}
        {props.heads && props.heads.length > 0 && (
          <div className="card-heads" data-testid="card-heads" title="Heads that move this node's inputs from earlier tokens: |edge weight| × the head's attention from this token to the source's token, one hop">
            <span className="muted">heads moving its inputs:</span>{' '}
            {props.heads.map((h) => (
              <button key={`${h.layer}/${h.head}`} type="button" className="chip" data-testid="card-head" data-layer={h.layer} data-head={h.head} data-share={h.share.toFixed(4)} onClick={() => props.onHead(h)}>
                L{h.layer}H{h.head} {(h.share * 100).toFixed(0)}%
              </button>
            ))}
          </div>
        )}
        <div className="row">
          {node.kind !== 'group' && <button type="button" data-testid="card-pin" onClick={props.onPin}>{props.pinned ? 'Unpin' : 'Pin'}</button>}
          {props.canExplain && <button type="button" data-testid="card-examples" onClick={props.onExamples}>Top examples</button>}
          <button type="button" onClick={props.onClose}>×</button>
        </div>
      </div>
    );
  }
}
