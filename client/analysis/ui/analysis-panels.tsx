/**
 * The analysis results, docked on the right under the selection, one tab at a time: token
 * effects, the neuron space, the circuit (CircuitPanel is the circuit view's mount point). The
 * tab follows what was last asked (Explain → effects, Trace → circuit) and is remembered
 * (ui-prefs); the question itself lives in the left dock (QuestionPanel).
 */
import { useEffect } from 'react';
import { uiPrefs, useUiPrefs, type AnalysisTab } from '../../state/ui-prefs.js';
import { useAnalysis } from '../state/analysis-services.js';
import { useAnalysisStore } from '../state/analysis-store.js';
import { CircuitPanel } from './circuit-panel.js';
import { NeuronSpacePanel } from './neuron-space-panel.js';
import { FeatureEffectsPanel } from './feature-effects-panel.js';
import { FeaturesPanel } from '../../ui/features-panel.js';
import { useAppServices } from '../../state/app-context.js';
import { useAppStore } from '../../state/app-store.js';
import { TokenEffectsPanel } from './token-effects-panel.js';
import './analysis.css';

const tabs: { id: AnalysisTab; label: string }[] = [
  { id: 'effects', label: 'Tokens' }, // token effects on Δ (one line with four tabs)
  { id: 'neurons', label: 'Neurons' },
  { id: 'circuit', label: 'Circuit' },
];
/** Only with transcoders loaded: the features' info, the feature clouds and feature explanations. */
const featuresTab = { id: 'features' as const, label: 'Features' };

export function AnalysisPanels() {
  const { store } = useAnalysis();
  const tab = useUiPrefs((s) => s.analysisTab);
  const effectsStatus = useAnalysisStore(store, (s) => s.effectsStatus);
  const graphStatus = useAnalysisStore(store, (s) => s.graphStatus);
  const hasEffects = useAnalysisStore(store, (s) => s.effects != null);
  const hasGraph = useAnalysisStore(store, (s) => s.graph != null);
  const hasTranscoders = useAppStore(useAppServices().app, (s) => s.model?.transcoders != null);
  const shownTabs = hasTranscoders ? [...tabs, featuresTab] : tabs;
  // Show the answer to what was just asked.
  useEffect(() => {
    if (effectsStatus === 'done') uiPrefs.setState({ analysisTab: 'effects' });
  }, [effectsStatus]);
  useEffect(() => {
    if (graphStatus === 'done') uiPrefs.setState({ analysisTab: 'circuit' });
  }, [graphStatus]);
  return (
    <div className="analysis-tabs" data-testid="analysis-panels" data-tab={tab}>
      <div className="tab-bar" role="tablist">
        {shownTabs.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            aria-selected={tab === t.id}
            className={tab === t.id ? 'on' : ''}
            data-testid={`tab-${t.id}`}
            title={t.id !== 'circuit' && t.id !== 'features' && !hasEffects ? 'Press Explain to fill this tab' : undefined}
            onClick={() => uiPrefs.setState({ analysisTab: t.id })}
          >
            {t.label}
            {t.id !== 'features' && (t.id === 'circuit' ? hasGraph : hasEffects) && <span className="tab-dot" aria-label="has results" />}
          </button>
        ))}
      </div>
      {/* Before Explain the tabs stay a slim bar (their titles say "Explain first"): the scene keeps the room. */}
      {tab === 'effects' && hasEffects && <TokenEffectsPanel />}
      {tab === 'neurons' && hasEffects && <NeuronSpacePanel />}
      {tab === 'neurons' && hasEffects && <FeatureEffectsPanel />}
      {tab === 'circuit' && <CircuitPanel />}
      {tab === 'features' && hasTranscoders && <FeaturesPanel />}
    </div>
  );
}
