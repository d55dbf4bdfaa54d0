/**
 * WebAssembly threads (ONNX Runtime's multi-threaded WASM) need a cross-origin isolated page: the
 * host sends `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy:
 * require-corp` (dist-static/_headers says so to hosts that read it). Where the host cannot, the
 * static build's own service worker (coi-sw.js, written by tools/build-static.ts) adds the two
 * headers to this origin's responses: registered here, then the page reloads once under it.
 */
const reloadKey = 'circuits-xr:coi-reload';

export type IsolationState = 'isolated' | 'reloading' | 'unavailable';

/** What the page can do about isolation now; 'reloading' means it is about to reload under the service worker. */
export function ensureCrossOriginIsolation(serviceWorkerUrl = 'coi-sw.js'): IsolationState {
  if (globalThis.crossOriginIsolated) {
    safeSession()?.removeItem(reloadKey);
    return 'isolated';
  }
  if (!window.isSecureContext || !('serviceWorker' in navigator)) return 'unavailable';
  const session = safeSession();
  // Reloaded once already and still not isolated: the browser ignores the worker's headers. Go on single-threaded.
  if (session?.getItem(reloadKey)) return 'unavailable';
  const reload = () => {
    session?.setItem(reloadKey, '1');
    window.location.reload();
  };
  navigator.serviceWorker.addEventListener('controllerchange', reload, { once: true });
  navigator.serviceWorker.register(new URL(serviceWorkerUrl, document.baseURI), { scope: './' }).then(
    (registration) => {
      // Already active (a previous visit) but this load was not controlled (a hard reload): reload under it.
      if (registration.active && !navigator.serviceWorker.controller) reload();
    },
    (error: Error) => console.warn(`WASM threads unavailable: the service worker that adds the isolation headers did not register (${error.message})`),
  );
  return 'reloading';
}

function safeSession(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}
