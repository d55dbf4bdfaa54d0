/** HTML token rail and scrubber: choose a position, or play positions in order. */
import { useAppServices } from '../state/app-context.js';
import { choosePosition, useAppStore } from '../state/app-store.js';
import { displayToken } from '../scene/token-rail.js';

export function TokenScrubber() {
  const { app } = useAppServices();
  const tokens = useAppStore(app, (state) => state.tokens);
  const position = useAppStore(app, (state) => state.position);
  const playing = useAppStore(app, (state) => state.playing);
  const followLive = useAppStore(app, (state) => state.followLive);
  const runStatus = useAppStore(app, (state) => state.runStatus);
  if (tokens.length === 0) return null;
  return (
    <div className="panel token-scrubber" data-testid="token-scrubber">
      <div className="tokens">
        {tokens.map((token, index) => (
          <button
            key={index}
            type="button"
            data-testid={`token-${index}`}
            className={index === position ? 'token current' : 'token'}
            onClick={() => choosePosition(app, index)}
          >
            {displayToken(token.text)}
          </button>
        ))}
      </div>
      <div className="row">
        <button type="button" data-testid="play-button" onClick={() => app.setState({ playing: !playing })}>
          {playing ? 'Pause' : 'Play'}
        </button>
        <input
          type="range"
          data-testid="scrubber"
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
