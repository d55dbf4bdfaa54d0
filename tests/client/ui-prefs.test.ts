/**
 * Panel preferences in localStorage (client/state/ui-prefs.ts), with an in-memory Storage: saved
 * on change, restored by a new store (a reload), the guide opening by itself only until it was
 * dismissed once, and broken saved data falling back to the defaults.
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage } from '../helpers/memory-storage.js';
import { createUiPrefsStore, defaultUiPrefs, uiPrefsKey } from '../../client/state/ui-prefs.js';

describe('ui prefs', () => {
  it('survives a reload and opens the guide only until it was dismissed', () => {
    const storage = memoryStorage();
    const first = createUiPrefsStore(storage);
    expect(first.getState().guideOpen).toBe(true);
    first.setState({ leftOpen: false, collapsed: { legend: false }, analysisTab: 'circuit', guideOpen: false, guideSeen: true });
    const reloaded = createUiPrefsStore(storage);
    expect(reloaded.getState()).toMatchObject({ leftOpen: false, collapsed: { legend: false }, analysisTab: 'circuit', guideOpen: false, guideSeen: true });
    // Reopened from "?" and reloaded: it stays a choice, not a first visit.
    reloaded.setState({ guideOpen: true });
    expect(createUiPrefsStore(storage).getState().guideOpen).toBe(false);
  });

  it('falls back to the defaults on broken data', () => {
    const storage = memoryStorage();
    storage.setItem(uiPrefsKey, '{not json');
    expect(createUiPrefsStore(storage).getState()).toEqual(defaultUiPrefs);
  });
});
