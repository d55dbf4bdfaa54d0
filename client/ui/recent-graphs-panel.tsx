/**
 * Recently traced circuits (kept in IndexedDB, see client/state/recent-graphs.ts): reopen one
 * without tracing again — its question comes back, its prompt is run for the rail and the
 * clouds, and the circuit is loaded as traced. Folded by default.
 */
import { useEffect, useState } from 'react';
import { importGraph } from '../../shared/graph/io.js';
import { useAppServices } from '../state/app-context.js';
import { listRecentGraphs, loadRecentGraph, type RecentGraphSummary } from '../state/recent-graphs.js';
import { uiPrefs } from '../state/ui-prefs.js';
import { useAnalysis } from '../analysis/state/analysis-services.js';
import { useAnalysisStore } from '../analysis/state/analysis-store.js';
import { loadGraph } from '../analysis/state/circuit.js';
import { DockSection } from './dock-section.js';
import { reopenedGraphs } from './view-session.js';

export function RecentGraphsPanel() {
  const { connection } = useAppServices();
  const { store } = useAnalysis();
  const graph = useAnalysisStore(store, (s) => s.graph);
  const [entries, setEntries] = useState<RecentGraphSummary[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    // A newly traced graph is saved a moment after it arrives: list again then.
    const timer = setTimeout(() => void listRecentGraphs().then(setEntries), 800);
    return () => clearTimeout(timer);
  }, [graph]);
  const reopen = async (id: string) => {
    setError(null);
    const entry = await loadRecentGraph(id);
    if (!entry) {
      setError('That circuit is no longer stored.');
      return;
    }
    try {
      const loaded = importGraph(entry.json);
      reopenedGraphs.add(loaded);
      store.setState({ prompt: entry.prompt, target: entry.target, distractor: entry.distractor });
      await connection.runPrompt(entry.prompt);
      loadGraph(store, loaded, { kind: 'traced' });
      uiPrefs.setState({ analysisTab: 'circuit' });
    } catch (e) {
      setError(`Could not reopen it: ${(e as Error).message}`);
    }
  };
  return (
    <DockSection name="recent-graphs" title={`Recent circuits (${entries.length})`} testId="recent-graphs" defaultCollapsed>
      {entries.length === 0 && <p className="muted">Traced circuits are kept here, in this browser.</p>}
      <ul className="recent-list">
        {entries.map((e) => (
          <li key={e.id}>
            <button type="button" className="link" data-testid="recent-graph" data-id={e.id} title={`${e.prompt} → ${e.target} vs ${e.distractor}`} onClick={() => void reopen(e.id)}>
              “{e.prompt.length > 32 ? `${e.prompt.slice(0, 32)}…` : e.prompt}” {e.target} vs {e.distractor}
            </button>
            <span className="muted"> {e.nodes} nodes · {new Date(e.savedAt).toLocaleTimeString()}</span>
          </li>
        ))}
      </ul>
      {error && <p className="error">{error}</p>}
    </DockSection>
  );
}
