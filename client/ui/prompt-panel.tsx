/** Prompt input: run the prompt (one frame per position) or generate token by token. */
import { useState, type FormEvent } from 'react';
import { useAppServices } from '../state/app-context.js';
import { useAppStore } from '../state/app-store.js';

export function PromptPanel() {
  const { app, connection } = useAppServices();
  const runStatus = useAppStore(app, (state) => state.runStatus);
  const ready = useAppStore(app, (state) => state.connection === 'connected' && state.model != null);
  const [prompt, setPrompt] = useState(' the apple fell from the');
  const [maxTokens, setMaxTokens] = useState(12);
  const busy = runStatus === 'running' || runStatus === 'generating';

  const onRun = (event: FormEvent) => {
    event.preventDefault();
    if (!busy && prompt.length > 0) void connection.runPrompt(prompt);
  };
  return (
    <form className="panel prompt-panel" onSubmit={onRun} data-testid="prompt-panel">
      <label htmlFor="prompt-input">Prompt</label>
      <textarea
        id="prompt-input"
        data-testid="prompt-input"
        rows={2}
        value={prompt}
        onChange={(event) => setPrompt(event.target.value)}
        onKeyDown={(event) => {
          if (event.key === 'Enter' && !event.shiftKey) onRun(event);
        }}
      />
      <div className="row">
        <button type="submit" data-testid="run-button" disabled={!ready || busy}>Run</button>
        <button
          type="button"
          data-testid="generate-button"
          disabled={!ready || busy || prompt.length === 0}
          onClick={() => void connection.generate(prompt, maxTokens)}
        >
          Generate
        </button>
        <input
          type="number"
          min={1}
          max={256}
          value={maxTokens}
          title="tokens to generate"
          aria-label="tokens to generate"
          onChange={(event) => setMaxTokens(Math.max(1, Math.min(256, Number(event.target.value) || 1)))}
        />
        {runStatus === 'generating' && (
          <button type="button" data-testid="cancel-button" onClick={() => connection.cancel()}>Stop</button>
        )}
      </div>
    </form>
  );
}
