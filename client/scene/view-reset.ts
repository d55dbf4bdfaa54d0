/**
 * "Reset view": puts the desktop camera back where it started (see desktopView) after flying
 * into the slabs. The scene's controls register the action here; the toolbar button and the
 * R key (outside text fields) call it.
 */

export const viewReset: { reset: (() => void) | null } = { reset: null };

export function resetView(): boolean {
  if (!viewReset.reset) return false;
  viewReset.reset();
  return true;
}

/** The R key resets the view unless the viewer is typing. Returns a cleanup. */
export function setupResetKey(target: Window = window): () => void {
  const onKey = (event: KeyboardEvent) => {
    const element = event.target as HTMLElement | null;
    const typing = !!element && (element.tagName === 'INPUT' || element.tagName === 'TEXTAREA' || element.tagName === 'SELECT' || element.isContentEditable);
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.code === 'KeyR' || event.code === 'Home') resetView();
  };
  target.addEventListener('keydown', onKey);
  return () => target.removeEventListener('keydown', onKey);
}
