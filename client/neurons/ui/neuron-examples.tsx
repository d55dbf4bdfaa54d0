/**
 * Corpus examples of a neuron: one line of tokens each, every token's background painted by
 * its activation relative to the neuron's maximum (the clouds' colour scale), the focus token
 * outlined and kept in view (the text before it is clipped from the left), its value in front.
 * Clicking a line shows the whole window, wrapped.
 */
import { useState } from 'react';
import type { NeuronExample } from '../../../shared/neuron-index.js';
import { exampleTokenText, formatActivation, isSpecialToken, tokenHighlight } from '../state/neuron-format.js';

function ExampleToken({ text, activation, max, focus }: { text: string; activation: number; max: number; focus: boolean }) {
  const { background, color } = tokenHighlight(activation, max);
  return (
    <span
      className={`example-token${focus ? ' focus' : ''}${isSpecialToken(text) ? ' special' : ''}`}
      style={{ background, color }}
      title={`${JSON.stringify(text)}: ${formatActivation(activation)}`}
      data-focus={focus ? 'true' : undefined}
    >
      {exampleTokenText(text)}
    </span>
  );
}

export function ExampleLine({ example, max, label, testId }: { example: NeuronExample; max: number; label?: string; testId: string }) {
  const [expanded, setExpanded] = useState(false);
  const tokens = example.tokens.map((token, i) => (
    <ExampleToken key={i} text={token.text} activation={example.activations[i] ?? 0} max={max} focus={i === example.focus} />
  ));
  return (
    <li
      className={expanded ? 'example expanded' : 'example'}
      data-testid={testId}
      data-value={example.value}
      onClick={() => setExpanded(!expanded)}
      onKeyDown={(event) => {
        if (event.key !== 'Enter' && event.key !== ' ') return;
        event.preventDefault();
        setExpanded(!expanded);
      }}
      tabIndex={0}
      aria-expanded={expanded}
      title={expanded ? 'Click to fold' : `Context ${example.context}, position ${example.position} — click to show the whole window`}
    >
      <span className="example-value">
        {label && <span className="example-label">{label}</span>}
        {formatActivation(example.value)}
      </span>
      {expanded ? (
        <span className="example-text wrapped">{tokens}</span>
      ) : (
        <span className="example-text">
          <span className="example-before">{tokens.slice(0, example.focus)}</span>
          <span className="example-after">{tokens.slice(example.focus)}</span>
        </span>
      )}
    </li>
  );
}

/** The top examples, highest first: `initial` of them, and a button for the rest. */
export function TopExamples({ examples, max, initial = 10 }: { examples: NeuronExample[]; max: number; initial?: number }) {
  const [all, setAll] = useState(false);
  const shown = all ? examples : examples.slice(0, initial);
  return (
    <section className="neuron-section">
      <h3>
        Top activating examples <span className="muted">{shown.length} of {examples.length}</span>
      </h3>
      {examples.length === 0 ? (
        <p className="muted">The neuron never fired on the corpus.</p>
      ) : (
        <ol className="example-list" data-testid="neuron-top-examples">
          {shown.map((example, i) => (
            <ExampleLine key={`${example.context}:${example.position}:${i}`} example={example} max={max} testId="neuron-top-example" />
          ))}
        </ol>
      )}
      {examples.length > initial && (
        <button type="button" className="link" data-testid="neuron-examples-toggle" onClick={() => setAll(!all)}>
          {all ? `Show the top ${initial}` : `Show all ${examples.length}`}
        </button>
      )}
    </section>
  );
}

/** Typical examples from across the neuron's range, labelled by quantile. */
export function QuantileExamples({ examples, max }: { examples: { quantile: number; example: NeuronExample }[]; max: number }) {
  if (examples.length === 0) return null;
  return (
    <details className="neuron-section">
      <summary>
        Examples across the range <span className="muted">{examples.length} quantiles</span>
      </summary>
      <ol className="example-list" data-testid="neuron-quantile-examples">
        {[...examples]
          .sort((a, b) => b.quantile - a.quantile)
          .map(({ quantile, example }) => (
            <ExampleLine key={quantile} example={example} max={max} label={`q${Math.round(quantile * 100)}`} testId="neuron-quantile-example" />
          ))}
      </ol>
    </details>
  );
}
