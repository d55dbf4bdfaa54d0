/**
 * The first-visit guide: what the slabs, points, colours, heads, rail and board are, and what to
 * try first. Open on a first visit, docked beside the scene (never over its centre); closed with
 * "Got it" and reopened from the "?" button. Whether it was seen is remembered (ui-prefs).
 */
import { closeGuide, useUiPrefs } from '../state/ui-prefs.js';

export function Guide() {
  const open = useUiPrefs((s) => s.guideOpen);
  if (!open) return null;
  return (
    <section className="panel guide" data-testid="guide" aria-label="guide">
      <h2>What you see</h2>
      <ul>
        <li><b>Slabs</b>: the model's layers, first nearest. <b>Points</b>: its MLP neurons, <span className="swatch up">orange</span> firing, <span className="swatch down">blue</span> negative.</li>
        <li><b>Heads</b>: balls beside each slab, bright when focused on one token.</li>
        <li><b>Rail</b>: the tokens; pick one to see the neurons there. <b>Board</b>: what comes next.</li>
      </ul>
      <p className="muted"><b>Try first:</b> an example from the list, <b>Run</b>, click a bright neuron, then <b>Explain</b>. Drag to orbit, WASD to fly, <b>R</b> resets the view.</p>
      <button type="button" data-testid="guide-close" onClick={closeGuide}>Got it</button>
    </section>
  );
}
