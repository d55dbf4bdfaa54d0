/**
 * HTML token rail and scrubber: choose a position, or play positions in order. Generated tokens
 * are drawn apart from the prompt's (blue, italic), byte pieces as the characters they form.
 */
import { useMemo } from 'react';
import { useAppServices } from '../state/app-context.js';
import { choosePosition, useAppStore } from '../state/app-store.js';
import { displayTokens } from '../state/token-text.js';

export function TokenScrubber() {
  const { app } = useAppServices();
  const tokens = useAppStore(app, (state) => state.tokens);
  const position = useAppStore(app, (state) => state.position);
  const playing = useAppStore(app, (state) => state.playing);
  const followLive = useAppStore(app, (state) => state.followLive);
  const runStatus = useAppStore(app, (state) => state.runStatus);
  const promptLength = useAppStore(app, (state) => state.promptLength);
  const shown = useMemo(() => displayTokens(tokens), [tokens]);
  if (tokens.length === 0) return null;
  return (
    <div className="panel token-scrubber" data-testid="token-scrubber">
      <div className="tokens">
        {tokens.map((token, index) => {
          const generated = promptLength !== null && index >= promptLength;
          const classes = ['token', index === position ? 'current' : '', generated ? 'generated' : '', shown[index]!.partial ? 'partial' : ''].filter(Boolean).join(' ');
          return (
            <button
              key={index}
              type="button"
              data-testid={`token-${index}`}
              data-generated={generated || undefined}
              className={classes}
              title={`${index}: ${shown[index]!.title}${generated ? ' (generated)' : ''} · id ${token.id}`}
              onClick={() => choosePosition(app, index)}
            >
              {shown[index]!.text}
            </button>
          );
        })}
      </div>
      <div className="row">
        <button type="button" data-testid="play-button" onClick={() => app.setState({ playing: !playing })}>
          {playing ? 'Pause' : 'Play'}
        </button>
        <input
          type="range"
          data-testid="scrubber"
          aria-label="position"
          min={0}
          max={Math.max(0, tokens.length - 1)}
          value={position}
          onChange={(event) => choosePosition(app, Number(event.target.value))}
        />
        <span>
          {position + 1}/{tokens.length}
        </span>
        {runStatus === 'generating' && (
          <label>
            <input type="checkbox" checked={followLive} onChange={(event) => app.setState({ followLive: event.target.checked })} />
            follow live
          </label>
        )}
      </div>
    </div>
  );
}
