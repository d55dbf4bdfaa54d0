/**
 * The scrubber's "play": while `playing`, step the shown position through the tokens in order,
 * then stop at the last one. Returns a cleanup.
 */
import type { AppStore } from './app-store.js';

export function setupPlayback(app: AppStore, stepMs = 450): () => void {
  let timer: ReturnType<typeof setInterval> | undefined;
  const stop = () => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };
  const step = () => {
    const { position, tokens, playing } = app.getState();
    if (!playing) return stop();
    if (position >= tokens.length - 1) {
      app.setState({ playing: false });
      return stop();
    }
    app.setState({ position: position + 1, followLive: false });
  };
  const unsubscribe = app.subscribe((state, previous) => {
    if (state.playing === previous.playing) return;
    stop();
    if (state.playing) {
      if (state.position >= state.tokens.length - 1) app.setState({ position: 0, followLive: false });
      timer = setInterval(step, stepMs);
    }
  });
  return () => {
    unsubscribe();
    stop();
  };
}
