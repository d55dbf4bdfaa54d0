/** Orbit (drag) plus WASD free-fly on the desktop; off inside an XR session. Registers "Reset view". */
import { OrbitControls } from '@react-three/drei';
import { useFrame, useThree } from '@react-three/fiber';
import { useXR } from '@react-three/xr';
import { useEffect, useMemo, useRef } from 'react';
import type { OrbitControls as OrbitControlsImpl } from 'three-stdlib';
import { setupFreeFly } from './free-fly.js';
import { setupResetKey, viewReset } from './view-reset.js';

export function DesktopControls({ target, home }: { target: [number, number, number]; home?: [number, number, number] }) {
  const inXR = useXR((state) => state.session != null);
  const camera = useThree((state) => state.camera);
  const controls = useRef<OrbitControlsImpl>(null);
  const freeFly = useMemo(() => setupFreeFly(), []);
  useEffect(() => () => freeFly.dispose(), [freeFly]);
  useEffect(() => {
    viewReset.reset = () => {
      if (home) camera.position.set(...home);
      controls.current?.target.set(...target);
      camera.lookAt(...target);
      controls.current?.update();
    };
    const cleanupKey = setupResetKey();
    return () => {
      viewReset.reset = null;
      cleanupKey();
    };
  }, [camera, target, home]);
  useFrame((state, delta) => {
    if (inXR || !controls.current) return;
    if (freeFly.update(delta, state.camera, controls.current.target)) controls.current.update();
  });
  if (inXR) return null;
  return <OrbitControls ref={controls} makeDefault target={target} enableDamping={false} />;
}
