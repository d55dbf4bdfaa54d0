/**
 * The 2D views' own panel, self-contained so the page layout can place it anywhere (one line
 * in app.tsx): the circuit graph (circuit-2d.tsx), shown once a graph is loaded, with a legend
 * and a size toggle, and the selected attention head's grid (attention-grid.tsx). Collapsible.
 * Also asks before a trace over 1000 nodes.
 */
import { useState } from 'react';
import { useAnalysis } from '../state/analysis-services.js';
import { useAnalysisStore } from '../state/analysis-store.js';
import { AttentionGrid } from './attention-grid.js';
import { Circuit2D } from './circuit-2d.js';
import './circuit-2d.css';

/**
 * The question before a trace over 1000 nodes, as a dialog over the page: the dock is always
 * mounted, so it shows even while the analysis column is collapsed.
 */
function TraceConfirm() {
  const { store, requests } = useAnalysis();
  const nodes = useAnalysisStore(store, (s) => s.traceConfirm);
  if (nodes === null) return null;
  return (
    <div className="trace-confirm" role="dialog" aria-label="Confirm a large trace" data-testid="trace-confirm">
      <p>Tracing <b>{nodes.toLocaleString('en')}</b> nodes can take minutes and makes a large graph (only the most influential nodes are drawn). Trace anyway?</p>
      <div className="row">
        <button type="button" data-testid="confirm-large-trace" onClick={() => void requests.trace(true)}>Trace {nodes.toLocaleString('en')} nodes</button>
        <button type="button" data-testid="cancel-large-trace" onClick={() => store.setState({ traceConfirm: null })}>Cancel</button>
      </div>
    </div>
  );
}

export function Circuit2DDock() {
  const { store } = useAnalysis();
  const graph = useAnalysisStore(store, (s) => s.graph);
  const pruning = useAnalysisStore(store, (s) => s.pruning);
  const selectedHead = useAnalysisStore(store, (s) => s.selectedHead);
  // Collapsed to a small button until there is something to show (a graph or a chosen head),
  // so it covers nothing on a first visit; the user's own choice wins afterwards.
  const [chosen, setOpen] = useState<boolean | null>(null);
  const open = chosen ?? (graph !== null || selectedHead !== null);
  const [large, setLarge] = useState(false);
  const width = large ? Math.min(1000, window.innerWidth - 40) : 560;
  const height = large ? Math.min(560, window.innerHeight - 160) : 270;
  return (
    <div className={open ? 'circuit-dock' : 'circuit-dock closed'} data-testid="circuit-dock" style={open ? { width: width + 2 } : undefined}>
      <TraceConfirm />
      <div className="row dock-head">
        <button type="button" data-testid="circuit-dock-toggle" onClick={() => setOpen(!open)}>{open ? '▼' : '▲'} Circuit graph &amp; attention</button>
        {open && graph && <button type="button" data-testid="circuit-2d-size" onClick={() => setLarge(!large)}>{large ? 'smaller' : 'larger'}</button>}
        {pruning && <span className="muted" data-testid="circuit-2d-busy">pruning…</span>}
      </div>
      {open && (
        <>
          {graph ? (
            <>
              <Circuit2D width={width} height={height} />
              <p className="circuit-legend-line">
                Layers bottom (tokens) to top (logit), one column per token. <span className="up">━ raises</span> <span className="down">━ lowers</span> the target (width: |weight|);
                ● neuron (size: influence) ◆ other neurons ■ token. Hover for details, click to select, shift-click to pin.
              </p>
              {graph.metadata.replacement_score !== undefined && (
                <p className="circuit-legend-line" data-testid="circuit-2d-scores">
                  Replacement model over transcoder features (◆ = transcoder error): replacement score {graph.metadata.replacement_score.toFixed(3)}
                  {graph.metadata.completeness_score !== undefined ? `, completeness ${graph.metadata.completeness_score.toFixed(3)}` : ''}
                </p>
              )}
            </>
          ) : null}
          <AttentionGrid />
        </>
      )}
    </div>
  );
}
