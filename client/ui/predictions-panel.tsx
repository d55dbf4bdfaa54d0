/** Top next-token predictions after the last position. */
import { useAppServices } from '../state/app-context.js';
import { useAppStore } from '../state/app-store.js';
import { displayToken } from '../scene/token-rail.js';

export function PredictionsPanel() {
  const { app } = useAppServices();
  const predictions = useAppStore(app, (state) => state.predictions);
  if (predictions.length === 0) return null;
  return (
    <div className="panel predictions-panel" data-testid="predictions-panel">
      <h2>Next token</h2>
      <ol>
        {predictions.slice(0, 10).map((prediction) => (
          <li key={prediction.id}>
            <span className="token">{displayToken(prediction.text)}</span>
            <span className="bar" style={{ width: `${Math.max(1, prediction.prob * 100)}%` }} />
            <span className="prob">{(prediction.prob * 100).toFixed(1)}%</span>
          </li>
        ))}
      </ol>
    </div>
  );
}
