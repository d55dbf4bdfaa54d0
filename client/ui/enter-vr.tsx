/**
 * Enter VR, or why not: disabled with the reason when the page is not a secure context (WebXR
 * needs https or localhost), the browser has no WebXR, or no headset is available; a failure to
 * start a session is shown in words instead of an uncaught error.
 */
import type { XRStore } from '@react-three/xr';
import { useEffect, useState } from 'react';
import { useStore } from 'zustand';

export type VrAvailability = { ok: true } | { ok: false; reason: string };

export async function vrAvailability(): Promise<VrAvailability> {
  if (!window.isSecureContext) return { ok: false, reason: 'VR needs a secure page: open it over https or on localhost.' };
  const xr = (navigator as Navigator & { xr?: { isSessionSupported(mode: string): Promise<boolean> } }).xr;
  if (!xr) return { ok: false, reason: 'This browser has no WebXR: open the page in a headset browser (e.g. Meta Quest Browser).' };
  try {
    if (!(await xr.isSessionSupported('immersive-vr'))) return { ok: false, reason: 'No VR headset is available to this browser.' };
  } catch (error) {
    return { ok: false, reason: `VR is not available: ${(error as Error).message}` };
  }
  return { ok: true };
}

export function EnterVRButton({ xrStore }: { xrStore: XRStore }) {
  const session = useStore(xrStore, (state) => state.session);
  // The emulated headset installs itself after the page starts: check again when it does.
  const emulator = useStore(xrStore, (state) => (state as { emulator?: unknown }).emulator);
  const [available, setAvailable] = useState<VrAvailability | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    const check = () => void vrAvailability().then((a) => live && setAvailable(a));
    check();
    const timer = setInterval(check, 3000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [emulator]);
  if (session) {
    return <button type="button" className="enter-vr" data-testid="exit-vr" onClick={() => void session.end()}>Exit VR</button>;
  }
  const reason = available && !available.ok ? available.reason : null;
  return (
    <span className="enter-vr-wrap">
      <button
        type="button"
        className="enter-vr"
        data-testid="enter-vr"
        disabled={!available?.ok}
        title={reason ?? 'Step inside the model with a VR headset'}
        aria-describedby={reason || failure ? 'vr-reason' : undefined}
        onClick={() => {
          setFailure(null);
          xrStore.enterVR().catch((error: unknown) => setFailure(`Could not start VR: ${(error as Error)?.message ?? String(error)}`));
        }}
      >
        Enter VR
      </button>
      {(reason || failure) && <span id="vr-reason" className="vr-reason" data-testid="vr-reason">{failure ?? reason}</span>}
    </span>
  );
}
