/**
 * A failed request keeps the previous scene. The connection starts every run by clearing the
 * rail and the clouds (frames stream in before the acknowledgement); when the request then fails
 * before any frame arrived (a prompt too long, a busy server), this puts the previous run back —
 * tokens, predictions, activations, position, selection — and leaves only the error showing.
 * It wraps the connection's methods in place, so every caller (Run, Generate, Explain, Trace)
 * gets the same behaviour. Returns a cleanup that unwraps them.
 */
import type { ActivationStore } from './activation-store.js';
import type { AppState, AppStore } from './app-store.js';
import type { Connection } from './connection.js';

type SceneFields = Pick<AppState, 'runId' | 'tokens' | 'predictions' | 'framesReady' | 'position' | 'followLive' | 'selection' | 'promptLength' | 'stopReason'>;

export function keepSceneOnFailure(connection: Connection, app: AppStore, activations: ActivationStore): () => void {
  const { runPrompt, generate } = connection;
  const guard = async (start: () => Promise<void>) => {
    const before = app.getState();
    const scene: SceneFields = {
      runId: before.runId, tokens: before.tokens, predictions: before.predictions, framesReady: before.framesReady,
      position: before.position, followLive: before.followLive, selection: before.selection,
      promptLength: before.promptLength, stopReason: before.stopReason,
    };
    const snapshot = before.tokens.length > 0 ? activations.snapshot() : null;
    await start();
    const after = app.getState();
    if (after.runStatus !== 'error' || after.framesReady > 0 || !snapshot) return;
    if (!activations.restore(snapshot)) return;
    app.setState({ ...scene, runStatus: 'idle', historyVersion: after.historyVersion + 1 });
  };
  connection.runPrompt = (prompt) => guard(() => runPrompt.call(connection, prompt));
  connection.generate = (prompt, maxTokens, temperature) => guard(() => generate.call(connection, prompt, maxTokens, temperature));
  return () => {
    connection.runPrompt = runPrompt;
    connection.generate = generate;
  };
}
