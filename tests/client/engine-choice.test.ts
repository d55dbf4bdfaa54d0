/**
 * Who answers the page (client/state/engine-choice.ts): the static build always the browser,
 * otherwise the address's ?engine= over the saved setting, a room link the server; and the
 * Inference setting kept in the ui prefs across a reload.
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage } from '../helpers/memory-storage.js';
import { chooseEngine, isStaticBuild } from '../../client/state/engine-choice.js';
import { createUiPrefsStore } from '../../client/state/ui-prefs.js';

describe('engine choice', () => {
  it('uses the worker only, with the reason for server features, in the static build', () => {
    const choice = chooseEngine({ staticBuild: true, search: '?engine=server', saved: 'server', roomLink: true });
    expect(choice.kind).toBe('browser');
    expect(choice.staticBuild).toBe(true);
    expect(choice.serverOnlyReason).toMatch(/without a server/);
  });

  it('follows the saved setting, the address over it, and the server for a room link', () => {
    expect(chooseEngine({ staticBuild: false, search: '', saved: 'server' })).toEqual({ kind: 'server', staticBuild: false, serverOnlyReason: null });
    expect(chooseEngine({ staticBuild: false, search: '', saved: 'browser' }).kind).toBe('browser');
    expect(chooseEngine({ staticBuild: false, search: '?engine=browser', saved: 'server' }).kind).toBe('browser');
    expect(chooseEngine({ staticBuild: false, search: '?engine=server', saved: 'browser' }).kind).toBe('server');
    expect(chooseEngine({ staticBuild: false, search: '?engine=gpu', saved: 'browser' }).kind).toBe('browser');
    expect(chooseEngine({ staticBuild: false, search: '?engine=browser&room=abc', saved: 'browser', roomLink: true }).kind).toBe('server');
    expect(chooseEngine({ staticBuild: false, search: '?engine=browser', saved: 'server' }).serverOnlyReason).toMatch(/in this browser/);
  });

  it('is not the static build under the tests (Vite mode "test")', () => {
    expect(isStaticBuild()).toBe(false);
  });

  it('keeps the Inference setting across a reload; a broken value means the server', () => {
    const storage = memoryStorage();
    expect(createUiPrefsStore(storage).getState().engine).toBe('server');
    createUiPrefsStore(storage).setState({ engine: 'browser' });
    expect(createUiPrefsStore(storage).getState().engine).toBe('browser');
    storage.setItem('circuits-xr:ui', JSON.stringify({ engine: 'quantum' }));
    expect(createUiPrefsStore(storage).getState().engine).toBe('server');
  });
});
