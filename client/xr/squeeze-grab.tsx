/**
 * Squeeze = grab. Squeezing a controller while its ray points at a token or a neuron grabs it
 * (the same selection as a click, plus `grabbed` in the app store until the squeeze ends).
 * Squeezing with the controller against a token is handled by the token's grab pointer events.
 * The ray is cast in the next frame from the input source's target-ray pose, because a pose
 * can only be read from a live XRFrame.
 */
import { useFrame, useThree } from '@react-three/fiber';
import { useXRInputSourceEvent, useXRStore } from '@react-three/xr';
import { useMemo, useRef } from 'react';
import { Matrix4, Quaternion, Raycaster, Vector3, type Object3D } from 'three';
import { useAppServices } from '../state/app-context.js';
import { grab, release } from '../state/app-store.js';

const poseMatrix = new Matrix4();
const rayOrigin = new Vector3();
const rayDirection = new Vector3();
const rayRotation = new Quaternion();
const rayScale = new Vector3();

export function SqueezeGrab() {
  const { app } = useAppServices();
  const xrStore = useXRStore();
  const scene = useThree((state) => state.scene);
  const pending = useRef<XRInputSource[]>([]);
  const raycaster = useMemo(() => {
    const r = new Raycaster();
    r.params.Points.threshold = 0.05;
    r.far = 60;
    return r;
  }, []);

  useXRInputSourceEvent('all', 'squeezestart', (event) => pending.current.push(event.inputSource), []);
  useXRInputSourceEvent('all', 'squeezeend', (event) => {
    const { grabbed } = app.getState();
    if (grabbed && (grabbed.hand === event.inputSource.handedness || grabbed.hand === 'grab')) release(app);
  }, [app]);

  useFrame((_state, _delta, frame?: XRFrame) => {
    if (pending.current.length === 0) return;
    const sources = pending.current.splice(0);
    const { originReferenceSpace, origin } = xrStore.getState();
    if (!frame || !originReferenceSpace) return;
    const targets: Object3D[] = ['token-rail', 'neuron-clouds']
      .map((name) => scene.getObjectByName(name))
      .filter((object): object is Object3D => object != null);
    for (const source of sources) {
      const pose = frame.getPose(source.targetRaySpace, originReferenceSpace);
      if (!pose) continue;
      poseMatrix.fromArray(pose.transform.matrix);
      if (origin) poseMatrix.premultiply(origin.matrixWorld);
      poseMatrix.decompose(rayOrigin, rayRotation, rayScale);
      rayDirection.set(0, 0, -1).applyQuaternion(rayRotation);
      raycaster.set(rayOrigin, rayDirection);
      const hit = raycaster.intersectObjects(targets, true).find((h) => h.object.userData.kind != null);
      if (!hit) continue;
      const { kind } = hit.object.userData as { kind: string; position?: number; layer?: number };
      if (kind === 'token') {
        grab(app, { kind: 'token', position: hit.object.userData.position as number, hand: source.handedness });
      } else if (kind === 'layer-cloud' && hit.index !== undefined) {
        grab(app, { kind: 'neuron', layer: hit.object.userData.layer as number, neuron: hit.index, hand: source.handedness });
      }
    }
  });
  return null;
}
