/**
 * Moving in VR without forced camera motion: the left thumbstick walks (smooth locomotion), the
 * right thumbstick snap-turns by 30°, and pointing either controller's ray at the floor and
 * pulling the trigger teleports there. All of it moves the XR origin, which is where the
 * visitor's feet are; children travel with it.
 *
 * Teleport uses the plain ray pointer (the floor answers 'ray' presses) rather than the
 * library's eased arc pointer: the arc eases by frame time / 100 ms, which overshoots and never
 * settles below ~5 frames per second (a struggling device, or the software-rendered tests).
 */
import type { ThreeEvent } from '@react-three/fiber';
import { useThree } from '@react-three/fiber';
import { XROrigin, useXRControllerLocomotion } from '@react-three/xr';
import { useRef, type ReactNode } from 'react';
import type { Group } from 'three';
import { teleportOrigin } from './teleport.js';

export function Locomotion({ floorLength, floorCentreZ, children }: { floorLength: number; floorCentreZ: number; children?: ReactNode }) {
  const origin = useRef<Group>(null);
  const camera = useThree((state) => state.camera);
  useXRControllerLocomotion(origin, { speed: 2.5 }, { type: 'snap', degrees: 30, deadZone: 0.5 }, 'left');
  const onFloorPressed = (event: ThreeEvent<PointerEvent>) => {
    if (event.pointerType !== 'ray' || !origin.current) return;
    event.stopPropagation();
    teleportOrigin(origin.current, camera, event.point);
  };
  return (
    <>
      <XROrigin ref={origin}>{children}</XROrigin>
      <mesh name="floor" rotation={[-Math.PI / 2, 0, 0]} position={[0, 0, floorCentreZ]} onPointerDown={onFloorPressed}>
        <planeGeometry args={[14, floorLength]} />
        <meshBasicMaterial color="#0c0e14" />
      </mesh>
    </>
  );
}
