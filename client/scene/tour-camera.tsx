/**
 * Registers the desktop camera for tours and recordings (client/state/tour.ts's tourCamera):
 * its pose (position and the orbit target it looks at) and a smooth move to another pose, eased
 * (smoothstep) over a fixed time so short beats feel quick but not abrupt. In an XR session the
 * camera is the visitor's head: it is never moved (the move resolves at once).
 */
import { useFrame, useThree } from '@react-three/fiber';
import { useXR } from '@react-three/xr';
import { useEffect, useRef } from 'react';
import { Vector3 } from 'three';
import type { CameraPose } from '../../shared/protocol.js';
import { tourCamera } from '../state/tour.js';

interface Move {
  fromPosition: Vector3;
  fromTarget: Vector3;
  toPosition: Vector3;
  toTarget: Vector3;
  startedAt: number;
  ms: number;
  done: () => void;
}

/** Eased fraction of a move at `t` in [0, 1]. */
export const ease = (t: number) => {
  const x = Math.max(0, Math.min(1, t));
  return x * x * (3 - 2 * x);
};

export function TourCamera() {
  const camera = useThree((state) => state.camera);
  const controls = useThree((state) => state.controls) as unknown as { target: Vector3; update: () => void } | null;
  const inXR = useXR((state) => state.session != null);
  const move = useRef<Move | null>(null);
  const state = useRef({ inXR, controls });
  state.current = { inXR, controls };

  useEffect(() => {
    const lookTarget = () => {
      const c = state.current.controls;
      if (c?.target) return c.target.clone();
      return camera.getWorldDirection(new Vector3()).multiplyScalar(5).add(camera.position);
    };
    tourCamera.get = (): CameraPose => {
      const p = camera.getWorldPosition(new Vector3());
      return { position: p.toArray() as [number, number, number], target: lookTarget().toArray() as [number, number, number] };
    };
    tourCamera.moveTo = (pose, ms) => new Promise<void>((resolve) => {
      if (state.current.inXR) return resolve();
      // A move still under way ends where it was going before the next starts.
      if (move.current) finish(move.current);
      const m: Move = {
        fromPosition: camera.position.clone(), fromTarget: lookTarget(),
        toPosition: new Vector3(...pose.position), toTarget: new Vector3(...pose.target),
        startedAt: performance.now(), ms: Math.max(0, ms), done: resolve,
      };
      move.current = m;
      if (m.ms === 0) return finish(m);
      // Frames stop in a hidden tab: arrive anyway.
      setTimeout(() => { if (move.current === m) finish(m); }, m.ms + 500);
    });
    return () => {
      tourCamera.get = null;
      tourCamera.moveTo = null;
    };
  }, [camera]);

  useFrame(() => {
    const m = move.current;
    if (!m) return;
    const t = (performance.now() - m.startedAt) / m.ms;
    if (t >= 1) return finish(m);
    const k = ease(t);
    camera.position.lerpVectors(m.fromPosition, m.toPosition, k);
    const target = new Vector3().lerpVectors(m.fromTarget, m.toTarget, k);
    const c = state.current.controls;
    if (c?.target) {
      c.target.copy(target);
      c.update();
    }
    camera.lookAt(target);
  });
  return null;

  function finish(m: Move) {
    camera.position.copy(m.toPosition);
    const c = state.current.controls;
    if (c?.target) {
      c.target.copy(m.toTarget);
      c.update();
    }
    camera.lookAt(m.toTarget);
    if (move.current === m) move.current = null;
    m.done();
  }
}
