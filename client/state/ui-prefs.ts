/**
 * What the viewer chose about the page itself — which docked panels are open, which sections
 * are collapsed, whether the first-visit guide was seen — kept in localStorage so a reload
 * looks the same. A zustand store; a missing or broken saved value falls back to the defaults.
 */
import { createStore } from 'zustand/vanilla';
import { useStore } from 'zustand';

/** 'features' exists only on servers with transcoders (features-panel.tsx). */
export type AnalysisTab = 'effects' | 'neurons' | 'circuit' | 'features';

export interface UiPrefs {
  /** The left dock (question, next token). */
  leftOpen: boolean;
  /** The right dock (selection, analysis results). */
  rightOpen: boolean;
  legendOpen: boolean;
  /** Collapsed panel sections by name. */
  collapsed: Record<string, boolean>;
  analysisTab: AnalysisTab;
  /** The first-visit guide was dismissed once (it opens again from "?"). */
  guideSeen: boolean;
  guideOpen: boolean;
  /** Who runs the model when the server serves the page (engine-choice.ts): 'server' or 'browser'. */
  engine: 'server' | 'browser';
}

export const defaultUiPrefs: UiPrefs = {
  leftOpen: true,
  rightOpen: true,
  legendOpen: false,
  collapsed: {},
  analysisTab: 'effects',
  guideSeen: false,
  guideOpen: true,
  engine: 'server',
};

export const uiPrefsKey = 'circuits-xr:ui';

function load(storage: Storage | undefined): UiPrefs {
  try {
    const saved = storage?.getItem(uiPrefsKey);
    if (!saved) return { ...defaultUiPrefs };
    const parsed = JSON.parse(saved) as Partial<UiPrefs>;
    const prefs = { ...defaultUiPrefs, ...parsed, collapsed: { ...(parsed.collapsed ?? {}) } };
    // The guide opens by itself only until it has been dismissed once.
    prefs.guideOpen = !prefs.guideSeen;
    if (prefs.engine !== 'browser') prefs.engine = 'server';
    return prefs;
  } catch {
    return { ...defaultUiPrefs };
  }
}

export type UiPrefsStore = ReturnType<typeof createUiPrefsStore>;

export function createUiPrefsStore(storage: Storage | undefined = typeof localStorage === 'undefined' ? undefined : localStorage) {
  const store = createStore<UiPrefs>()(() => load(storage));
  store.subscribe((state) => {
    try {
      storage?.setItem(uiPrefsKey, JSON.stringify(state));
    } catch {
      // Private mode or a full storage: the page still works, it just forgets.
    }
  });
  return store;
}

/** The page's one preferences store. */
export const uiPrefs = createUiPrefsStore();

export function useUiPrefs<T>(selector: (state: UiPrefs) => T): T {
  return useStore(uiPrefs, selector);
}

export function toggleSection(name: string): void {
  const collapsed = uiPrefs.getState().collapsed;
  uiPrefs.setState({ collapsed: { ...collapsed, [name]: !collapsed[name] } });
}

export function closeGuide(): void {
  uiPrefs.setState({ guideOpen: false, guideSeen: true });
}
