/**
 * The circuit: live pruning in the graph worker (how many nodes are shown, node and edge
 * threshold sliders), statistics (kept nodes and edges, share of influence covered, per-layer
 * node counts in model order), the kept nodes by influence in words with pins (the "other
 * neurons" aggregates last), grouping pinned nodes into named supernodes, and import/export
 * (Neuronpedia graph JSON, a PNG of the current view). The graph itself is drawn by the 2D
 * panel (circuit-2d.tsx) and the 3D paths.
 */
import { useMemo, useState, type ChangeEvent } from 'react';
import { exportGraph } from '../../../shared/graph/io.js';
import { applyPrune } from '../../../shared/graph/prune.js';
import { nodeKind, type AttributionGraph } from '../../../shared/graph/schema.js';
import { useAppServices } from '../../state/app-context.js';
import { selectNeuron, useAppStore } from '../../state/app-store.js';
import { analysisSceneRegistry, useAnalysis } from '../state/analysis-services.js';
import { useAnalysisStore, type AnalysisState } from '../state/analysis-store.js';
import { groupNodes, loadGraph, setThresholds, togglePin, ungroup } from '../state/circuit.js';
import { layerOrder, longLabel, rankedForList } from '../state/circuit-view.js';
import { explainFeature } from '../../state/feature-view.js';

const listed = 40;


function download(name: string, url: string): void {
  const anchor = document.createElement('a');
  anchor.href = url;
  anchor.download = name;
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
}

/** The pruned graph as it is shown, with the pins, supernodes and thresholds that made it. */
export function shownGraph(state: Pick<AnalysisState, 'graph' | 'prune' | 'pinnedIds' | 'nodeThreshold' | 'edgeThreshold'> & Partial<Pick<AnalysisState, 'supernodes'>>): AttributionGraph | null {
  if (!state.graph || !state.prune) return null;
  const pruned = applyPrune(state.graph, state.prune);
  return {
    ...pruned,
    metadata: {
      ...pruned.metadata,
      node_threshold: state.nodeThreshold,
      pruning_settings: { node_threshold: state.nodeThreshold, edge_threshold: state.edgeThreshold },
    },
    // Groups as Neuronpedia stores them, [label, ...ids], limited to the nodes exported.
    qParams: {
      ...pruned.qParams,
      pinnedIds: [...state.pinnedIds],
      supernodes: (state.supernodes ?? pruned.qParams.supernodes)
        .map(([label, ...ids]) => [label!, ...ids.filter((id) => state.prune!.keptNodeIds.includes(id))])
        .filter((group) => group.length > 1),
    },
  };
}

function layerLabel(layer: string, kind: string): string {
  if (kind === 'embedding') return 'emb';
  if (kind === 'logit') return 'logit';
  return `L${layer}`;
}

export function CircuitPanel() {
  const services = useAppServices();
  const { app } = services;
  const { store } = useAnalysis();
  const model = useAppStore(app, (s) => s.model);
  const graph = useAnalysisStore(store, (s) => s.graph);
  const source = useAnalysisStore(store, (s) => s.graphSource);
  const prune = useAnalysisStore(store, (s) => s.prune);
  const nodeThreshold = useAnalysisStore(store, (s) => s.nodeThreshold);
  const edgeThreshold = useAnalysisStore(store, (s) => s.edgeThreshold);
  const pinnedIds = useAnalysisStore(store, (s) => s.pinnedIds);
  const highlight = useAnalysisStore(store, (s) => s.highlight);
  const showPaths = useAnalysisStore(store, (s) => s.showPaths);
  const focusNodeId = useAnalysisStore(store, (s) => s.focusNodeId);
  const graphIndex = useAnalysisStore(store, (s) => s.graphIndex);
  const nodeBudget = useAnalysisStore(store, (s) => s.nodeBudget);
  const supernodes = useAnalysisStore(store, (s) => s.supernodes);
  const pruning = useAnalysisStore(store, (s) => s.pruning);
  const [importError, setImportError] = useState<string | null>(null);
  const [groupName, setGroupName] = useState('');

  const byId = useMemo(() => new Map(graph?.nodes.map((n) => [n.node_id, n]) ?? []), [graph]);
  const stats = useMemo(() => {
    if (!prune) return null;
    const perLayer = new Map<string, number>();
    for (const id of prune.keptNodeIds) {
      const node = byId.get(id);
      if (!node) continue;
      const label = layerLabel(node.layer, nodeKind(node));
      perLayer.set(label, (perLayer.get(label) ?? 0) + 1);
    }
    const ranked = graphIndex ? rankedForList(graphIndex, prune).slice(0, listed) : [];
    return { perLayer: [...perLayer.entries()].sort((a, b) => layerOrder(a[0]) - layerOrder(b[0])), ranked };
  }, [prune, byId, graphIndex]);
  const grouped = new Set(supernodes.flatMap(([, ...ids]) => ids));
  const groupable = pinnedIds.filter((id) => !grouped.has(id));

  const onFile = async (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    event.target.value = '';
    if (!file) return;
    try {
      // Parsed, checked and pruned in the graph worker: a big file never freezes the page.
      setImportError(null);
      await loadGraph(store, { blob: file }, { kind: 'imported', fileName: file.name });
    } catch (error) {
      setImportError(`${file.name}: ${(error as Error).message}`);
    }
  };
  const exportJson = () => {
    const shown = shownGraph(store.getState());
    if (!shown) return;
    const url = URL.createObjectURL(new Blob([exportGraph(shown)], { type: 'application/json' }));
    download(`${shown.metadata.slug || 'circuit'}.json`, url);
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  const exportPng = () => {
    const url = analysisSceneRegistry.canvas?.toDataURL('image/png');
    if (url) download(`${graph?.metadata.slug || 'circuits-xr'}-view.png`, url);
  };
  const focus = (id: string) => {
    const node = byId.get(id);
    if (!node) return;
    const layer = Number(node.layer);
    const isModelNeuron = source?.kind === 'traced' && node.feature_type === 'mlp neuron' && model && layer < model.nLayers && node.feature < model.neuronsPerLayer;
    if (isModelNeuron) {
      store.setState({ focusNodeId: null });
      selectNeuron(app, { layer, neuron: node.feature });
    } else {
      selectNeuron(app, null);
      store.setState({ focusNodeId: focusNodeId === id ? null : id });
      // A feature of the loaded transcoders: explain it too (Transcoder features panel).
      if (node.feature_type === 'cross layer transcoder' && model?.transcoders && graph?.metadata.info?.transcoder_set === model.transcoders.source) {
        explainFeature(services, layer, node.feature);
      }
    }
  };

  return (
    <section className="panel analysis-panel" data-testid="circuit-panel">
      <h2>Circuit</h2>
      <div className="row">
        <label className="file-button">
          Import graph JSON
          <input type="file" accept=".json,application/json" data-testid="graph-file" onChange={(e) => void onFile(e)} />
        </label>
        <button type="button" data-testid="export-json" disabled={!prune} onClick={exportJson}>Export JSON</button>
        <button type="button" data-testid="export-png" onClick={exportPng}>Export PNG</button>
      </div>
      {importError && <p className="error" data-testid="import-error">{importError}</p>}
      {pruning && !graph && <p className="muted" data-testid="graph-loading">Reading the graph…</p>}
      {!graph && <p className="muted">Trace a circuit or import a graph.</p>}
      {graph && prune && stats && (
        <>
          <p className="muted" data-testid="circuit-source">
            {source?.kind === 'imported' ? `Imported ${source.fileName}` : 'Traced'}: {graph.metadata.scan} · “{graph.metadata.prompt}”
          </p>
          <label className="slider">
            <span>nodes shown (most influential) <b data-testid="node-budget-value">{nodeBudget}</b>{pruning ? ' …' : ''}</span>
            <input type="range" data-testid="node-budget" min={5} max={Math.max(5, Math.min(500, graph.nodes.length))} step={1} value={nodeBudget} onChange={(e) => setThresholds(store, { nodeBudget: Number(e.target.value) })} />
          </label>
          <label className="slider">
            <span>node threshold <b data-testid="node-threshold-value">{nodeThreshold.toFixed(2)}</b></span>
            <input type="range" data-testid="node-threshold" min={0.05} max={1} step={0.01} value={nodeThreshold} onChange={(e) => setThresholds(store, { nodeThreshold: Number(e.target.value) })} />
          </label>
          <label className="slider">
            <span>edge threshold <b data-testid="edge-threshold-value">{edgeThreshold.toFixed(3)}</b></span>
            <input type="range" data-testid="edge-threshold" min={0.5} max={1} step={0.005} value={edgeThreshold} onChange={(e) => setThresholds(store, { edgeThreshold: Number(e.target.value) })} />
          </label>
          <label className="inline">
            <input type="checkbox" data-testid="show-paths" checked={showPaths} onChange={(e) => store.setState({ showPaths: e.target.checked })} /> show paths
          </label>
          <table className="circuit-stats" data-testid="circuit-stats" data-nodes={prune.keptNodeIds.length} data-links={prune.keptLinks.length}>
            <tbody>
              <tr><td>nodes</td><td data-testid="kept-nodes">{prune.keptNodeIds.length} / {graph.nodes.length}</td></tr>
              <tr><td>edges</td><td data-testid="kept-links">{prune.keptLinks.length} / {graphIndex?.edgeSources.length ?? 0}</td></tr>
              <tr><td>influence covered (nodes)</td><td data-testid="node-coverage">{(prune.nodeCoverage * 100).toFixed(1)}%</td></tr>
              <tr><td>edge score covered</td><td data-testid="edge-coverage">{(prune.edgeCoverage * 100).toFixed(1)}%</td></tr>
              <tr><td>paths highlighted</td><td data-testid="highlighted-links">{highlight.count}</td></tr>
              {graph.metadata.replacement_score !== undefined && (
                <tr title="circuit-tracer's replacement score: the share of the graph's influence on the logit that flows from the tokens through features, not through error nodes">
                  <td>replacement score</td><td data-testid="replacement-score" data-value={graph.metadata.replacement_score}>{graph.metadata.replacement_score.toFixed(3)}</td>
                </tr>
              )}
              {graph.metadata.completeness_score !== undefined && (
                <tr title="circuit-tracer's completeness score: the share of each node's input that comes from non-error nodes, weighted by influence">
                  <td>completeness score</td><td data-testid="completeness-score" data-value={graph.metadata.completeness_score}>{graph.metadata.completeness_score.toFixed(3)}</td>
                </tr>
              )}
            </tbody>
          </table>
          <div className="per-layer" data-testid="per-layer-counts">
            {stats.perLayer.map(([label, count]) => <span key={label} className="chip">{label}: {count}</span>)}
          </div>
          <div className="row group-row">
            <input type="text" placeholder="supernode name" data-testid="group-name" value={groupName} onChange={(e) => setGroupName(e.target.value)} />
            <button type="button" data-testid="group-pinned" disabled={groupable.length < 2} title="Draw the pinned nodes as one node, in 2D and 3D" onClick={() => { groupNodes(store, groupName, groupable); setGroupName(''); }}>
              Group {groupable.length} pinned
            </button>
          </div>
          {supernodes.length > 0 && (
            <div className="per-layer" data-testid="supernodes">
              {supernodes.map(([label, ...ids]) => (
                <span key={label} className="chip" data-testid="supernode" title={ids.join(', ')}>
                  {label} ({ids.length}) <button type="button" className="link" data-testid="ungroup" onClick={() => ungroup(store, label!)}>×</button>
                </span>
              ))}
            </div>
          )}
          <h3>Nodes by influence</h3>
          <ol className="node-list" data-testid="circuit-nodes">
            {stats.ranked.map((id) => {
              const node = byId.get(id)!;
              const pinned = pinnedIds.includes(id);
              const focused = highlight.focusIds.includes(id);
              return (
                <li key={id} className={focused ? 'selected' : ''}>
                  <button type="button" className={pinned ? 'pin on' : 'pin'} data-testid="pin-node" data-node-id={id} title={pinned ? 'unpin' : 'pin (always keep)'} onClick={() => togglePin(store, id)}>
                    {pinned ? '●' : '○'}
                  </button>
                  <button type="button" className="link" data-testid="focus-node" data-node-id={id} onClick={() => focus(id)} title={`${id}: ${node.clerp}`}>
                    {longLabel(node, graph)}
                  </button>
                </li>
              );
            })}
          </ol>
        </>
      )}
    </section>
  );
}
