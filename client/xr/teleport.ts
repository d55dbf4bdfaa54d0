/**
 * Teleport: move the XR origin (the visitor's feet) so that the head lands above a floor point,
 * keeping the current facing. The head's offset inside the origin is subtracted, as
 * @pmndrs/xr's own teleport does.
 */
import { Vector3, type Object3D } from 'three';

const headOffset = new Vector3();

export function teleportOrigin(origin: Object3D, head: Object3D, point: Vector3): void {
  // The head's position inside the origin, turned by the origin's rotation, without height.
  headOffset.copy(head.position).applyQuaternion(origin.quaternion).setY(0);
  origin.position.set(point.x - headOffset.x, 0, point.z - headOffset.z);
}
