/**
 * The XR store (@react-three/xr 6). Controller profiles and models come from our own origin
 * (`/xr-profiles/`, see vite.config.ts), never a CDN. Controllers keep the default ray and grab
 * pointers (teleport is a ray press on the floor, see locomotion.tsx). On localhost — or with
 * `?xr-emulate` in the URL — a Quest 3 is emulated (IWER) when the browser has no WebXR, which
 * is how the browser tests enter VR.
 */
import { createXRStore, type XRStore } from '@react-three/xr';

/** Relative to the page, so the static build works from any folder (`npm start` serves the page at /). */
export const xrProfilesPath = 'xr-profiles/';

export function createCircuitsXRStore(): XRStore {
  const forceEmulation = new URLSearchParams(window.location.search).has('xr-emulate');
  return createXRStore({
    baseAssetPath: new URL(xrProfilesPath, document.baseURI).href,
    emulate: {
      type: 'metaQuest3',
      // No synthetic room: it would be fetched from a CDN, and the clouds are the room.
      syntheticEnvironment: false,
      inject: forceEmulation ? true : { hostname: 'localhost' },
      headset: { position: [0, 1.6, 0] },
      controller: {
        left: { position: [-0.25, 1.35, -0.35] },
        right: { position: [0.25, 1.35, -0.35] },
      },
    },
    // No browser-offered session: entering is the Enter VR button's job.
    offerSession: false,
  });
}
