/**
 * WASD free-fly for the desktop, alongside orbit controls: W/S along the view direction, A/D
 * sideways, Q/E (or Space/Shift) down/up. Moves the camera and the orbit target together so
 * orbiting keeps working around what is in front. Keys typed into inputs are ignored.
 */
import { Vector3, type Camera } from 'three';

export interface FreeFly {
  /** Moves by the held keys; returns whether anything moved. */
  update(deltaSeconds: number, camera: Camera, target: Vector3): boolean;
  dispose(): void;
}

const forward = new Vector3();
const right = new Vector3();
const move = new Vector3();
const up = new Vector3(0, 1, 0);

export function setupFreeFly(element: Window = window, speed = 3): FreeFly {
  const held = new Set<string>();
  const isTyping = (event: KeyboardEvent) => {
    const target = event.target as HTMLElement | null;
    return !!target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.isContentEditable);
  };
  const down = (event: KeyboardEvent) => {
    if (!isTyping(event)) held.add(event.code);
  };
  const upListener = (event: KeyboardEvent) => held.delete(event.code);
  const blur = () => held.clear();
  element.addEventListener('keydown', down);
  element.addEventListener('keyup', upListener);
  element.addEventListener('blur', blur);
  return {
    update(deltaSeconds, camera, target) {
      if (held.size === 0) return false;
      camera.getWorldDirection(forward);
      right.crossVectors(forward, up).normalize();
      move.set(0, 0, 0);
      if (held.has('KeyW') || held.has('ArrowUp')) move.add(forward);
      if (held.has('KeyS') || held.has('ArrowDown')) move.sub(forward);
      if (held.has('KeyD') || held.has('ArrowRight')) move.add(right);
      if (held.has('KeyA') || held.has('ArrowLeft')) move.sub(right);
      if (held.has('KeyE') || held.has('Space')) move.y += 1;
      if (held.has('KeyQ') || held.has('ShiftLeft')) move.y -= 1;
      if (move.lengthSq() === 0) return false;
      const fast = held.has('ShiftRight') ? 3 : 1;
      move.normalize().multiplyScalar(speed * fast * Math.min(deltaSeconds, 0.1));
      camera.position.add(move);
      target.add(move);
      return true;
    },
    dispose() {
      element.removeEventListener('keydown', down);
      element.removeEventListener('keyup', upListener);
      element.removeEventListener('blur', blur);
    },
  };
}
