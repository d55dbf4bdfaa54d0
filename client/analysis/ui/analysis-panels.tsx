/**
 * The analysis views' HTML panels (desktop): question, token effects, neuron space, circuit,
 * in one scrollable column beside the app's own panels. They read the same analysis store as
 * the scene, so VR shows the same state.
 */
import { useState } from 'react';
import { CircuitPanel } from './circuit-panel.js';
import { NeuronSpacePanel } from './neuron-space-panel.js';
import { QuestionPanel } from './question-panel.js';
import { TokenEffectsPanel } from './token-effects-panel.js';
import './analysis.css';

export function AnalysisPanels() {
  const [open, setOpen] = useState(true);
  return (
    <div className={open ? 'analysis-column' : 'analysis-column closed'} data-testid="analysis-panels">
      <button type="button" className="analysis-toggle" data-testid="analysis-toggle" onClick={() => setOpen(!open)}>
        {open ? '◀ Analysis' : '▶ Analysis'}
      </button>
      {open && (
        <>
          <QuestionPanel />
          <TokenEffectsPanel />
          <NeuronSpacePanel />
          <CircuitPanel />
        </>
      )}
    </div>
  );
}
