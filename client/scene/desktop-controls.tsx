/** Orbit (drag) plus WASD free-fly on the desktop; off inside an XR session. */
import { OrbitControls } from '@react-three/drei';
import { useFrame } from '@react-three/fiber';
import { useXR } from '@react-three/xr';
import { useEffect, useMemo, useRef } from 'react';
import type { OrbitControls as OrbitControlsImpl } from 'three-stdlib';
import { setupFreeFly } from './free-fly.js';

export function DesktopControls({ target }: { target: [number, number, number] }) {
  const inXR = useXR((state) => state.session != null);
  const controls = useRef<OrbitControlsImpl>(null);
  const freeFly = useMemo(() => setupFreeFly(), []);
  useEffect(() => () => freeFly.dispose(), [freeFly]);
  useFrame((state, delta) => {
    if (inXR || !controls.current) return;
    if (freeFly.update(delta, state.camera, controls.current.target)) controls.current.update();
  });
  if (inXR) return null;
  return <OrbitControls ref={controls} makeDefault target={target} enableDamping={false} />;
}
