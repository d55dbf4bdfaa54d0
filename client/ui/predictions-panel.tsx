/**
 * What the model expects next, after the last token on the rail (during generation: after the
 * newest generated token). Top 5 by default, all 10 on request.
 */
import { useState } from 'react';
import { useAppServices } from '../state/app-context.js';
import { useAppStore } from '../state/app-store.js';
import { displayTokens } from '../state/token-text.js';
import { DockSection } from './dock-section.js';

export function PredictionsPanel() {
  const { app } = useAppServices();
  const predictions = useAppStore(app, (state) => state.predictions);
  const tokens = useAppStore(app, (state) => state.tokens);
  const promptLength = useAppStore(app, (state) => state.promptLength);
  const [more, setMore] = useState(false);
  if (predictions.length === 0) return null;
  const shownTokens = displayTokens(tokens);
  const last = shownTokens[shownTokens.length - 1];
  const lastGenerated = promptLength !== null && tokens.length > promptLength;
  const shown = displayTokens(predictions);
  const rows = predictions.slice(0, more ? 10 : 5);
  return (
    <DockSection
      name="next-token"
      testId="predictions-panel"
      className="predictions-panel"
      title={<>Next token after <span className={lastGenerated ? 'token generated' : 'token'} data-testid="predictions-after">“{last?.text ?? ''}”</span></>}
    >
      <ol>
        {rows.map((prediction, i) => (
          <li key={prediction.id}>
            <span className="token" title={shown[i]!.title}>{shown[i]!.text}</span>
            <span className="bar" style={{ width: `${Math.max(1, prediction.prob * 100)}%` }} />
            <span className="prob">{(prediction.prob * 100).toFixed(1)}%</span>
          </li>
        ))}
      </ol>
      {predictions.length > 5 && (
        <button type="button" className="link" onClick={() => setMore(!more)}>{more ? 'fewer' : `all ${Math.min(10, predictions.length)}`}</button>
      )}
    </DockSection>
  );
}
