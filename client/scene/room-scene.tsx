/**
 * The room in the scene (client/state/room.ts carries the poses):
 * - the presenter's page publishes its view (desktop: camera and orbit target; VR: head, a point
 *   ahead of it and both controllers) and its laser (mouse ray or right controller ray, ending on
 *   the neuron or token it aims at);
 * - everyone else sees the laser as a beam and a dot (the dot also marks what it points at);
 * - desktop followers' cameras glide to the presenter's view (smoothed, never a jump); dragging
 *   the view detaches (one action), Rejoin glides back;
 * - in VR nobody's head is moved: the presenter appears as an avatar (head and hands) and
 *   "go to presenter" teleports next to it behind a short fade.
 */
import { useFrame, useThree } from '@react-three/fiber';
import { useXR, useXRStore } from '@react-three/xr';
import { useEffect, useMemo, useRef } from 'react';
import {
  AdditiveBlending, BackSide, BufferGeometry, CanvasTexture, Float32BufferAttribute, Matrix4, Quaternion, Raycaster, Vector2, Vector3,
  type Group, type Mesh, type MeshBasicMaterial, type Object3D,
} from 'three';
import type { CameraPose, PointerPose } from '../../shared/protocol.js';
import { useAppServices } from '../state/app-context.js';
import { isFollowing, roomSceneRegistry, useRoomServices, useRoomView, type RoomServices } from '../state/room-services.js';
import { teleportOrigin } from '../xr/teleport.js';
import { neuronPosition, tokenPosition, type SceneLayout } from './layout.js';

type Vec3 = [number, number, number];
const BEAM_LENGTH = 8;
/** Followers' cameras close this fraction of the gap per second (exponential smoothing). */
const FOLLOW_RATE = 5;
const FADE_MS = 180;
const RESEND_MS = 1000;

const v1 = new Vector3();
const v2 = new Vector3();
const q1 = new Quaternion();
const m1 = new Matrix4();
const arr = (v: Vector3): Vec3 => [v.x, v.y, v.z];
const close = (a: Vec3 | null, b: Vec3, eps = 1e-3) => a !== null && Math.abs(a[0] - b[0]) < eps && Math.abs(a[1] - b[1]) < eps && Math.abs(a[2] - b[2]) < eps;

export function RoomScene({ layout }: { layout: SceneLayout | null }) {
  const room = useRoomServices();
  if (!room) return null;
  return <RoomSceneInner room={room} layout={layout} />;
}

function RoomSceneInner({ room, layout }: { room: RoomServices; layout: SceneLayout | null }) {
  const { app } = useAppServices();
  const xrStore = useXRStore();
  const inXR = useXR((s) => s.session != null);
  const camera = useThree((s) => s.camera);
  const gl = useThree((s) => s.gl);
  const controls = useThree((s) => s.controls) as unknown as { target: Vector3; update: () => void; addEventListener: (e: string, f: () => void) => void; removeEventListener: (e: string, f: () => void) => void } | null;
  const beam = useRef<Group>(null);
  const dot = useRef<Mesh>(null);
  const avatar = useRef<Group>(null);
  const fadeMesh = useRef<Mesh>(null);
  const fade = useRef({ value: 0, target: 0 });
  /** A pose the desktop camera glides to (tours), outside following. */
  const glide = useRef<CameraPose | null>(null);
  const lastSent = useRef<{ camera: Vec3 | null; target: Vec3 | null; pointer: string; cameraAt: number; pointerAt: number }>({ camera: null, target: null, pointer: '', cameraAt: 0, pointerAt: 0 });
  const mouse = useRef<{ over: boolean; ndc: Vector2 }>({ over: false, ndc: new Vector2() });
  const raycaster = useMemo(() => new Raycaster(), []);
  const beamGeometry = useMemo(() => {
    const g = new BufferGeometry();
    g.setAttribute('position', new Float32BufferAttribute([0, 0, 0, 0, 0, -1], 3));
    return g;
  }, []);
  const shown = useRef<{ laser: { from: Vec3; to: Vec3; dot: boolean } | null; avatar: { head: Vec3; hands: Vec3[] } | null }>({ laser: null, avatar: null });

  // The mouse over the canvas (the presenter's desktop laser).
  useEffect(() => {
    const el = gl.domElement;
    const move = (e: PointerEvent) => {
      const r = el.getBoundingClientRect();
      mouse.current.over = true;
      mouse.current.ndc.set(((e.clientX - r.left) / r.width) * 2 - 1, -((e.clientY - r.top) / r.height) * 2 + 1);
    };
    const leave = () => { mouse.current.over = false; };
    el.addEventListener('pointermove', move);
    el.addEventListener('pointerleave', leave);
    return () => { el.removeEventListener('pointermove', move); el.removeEventListener('pointerleave', leave); };
  }, [gl]);

  // Dragging the view while following detaches: the follower explores on its own.
  useEffect(() => {
    if (!controls?.addEventListener) return;
    const start = () => {
      const v = room.store.getState();
      if (isFollowing(v)) room.controls.detach();
    };
    controls.addEventListener('start', start);
    return () => controls.removeEventListener('start', start);
  }, [controls, room]);

  /** Where the presenter's laser ends: on what it aims at (neuron, token), else null. */
  const aimedPoint = (): Vec3 | null => {
    const aimed = app.getState().aimed;
    if (!aimed || !layout) return null;
    if (aimed.kind === 'neuron') return arr(neuronPosition(layout, aimed.layer, aimed.neuron, v2));
    return arr(tokenPosition(layout, aimed.position, app.getState().tokens.length, v2));
  };

  const goToPresenter = async () => {
    const pose = room.store.getState().camera;
    const { origin } = xrStore.getState();
    if (!pose || !origin) return;
    fade.current.target = 1;
    await new Promise((r) => setTimeout(r, FADE_MS));
    // A metre behind the presenter, looking the way they look (height is the floor's).
    const [hx, , hz] = pose.position;
    const dx = pose.target[0] - hx;
    const dz = pose.target[2] - hz;
    const len = Math.hypot(dx, dz) || 1;
    teleportOrigin(origin as Object3D, camera, new Vector3(hx - dx / len, 0, hz - dz / len));
    fade.current.target = 0;
    await new Promise((r) => setTimeout(r, FADE_MS));
  };

  useEffect(() => {
    roomSceneRegistry.goToPresenter = goToPresenter;
    roomSceneRegistry.laser = () => shown.current.laser;
    roomSceneRegistry.avatar = () => shown.current.avatar;
    roomSceneRegistry.fade = () => fade.current.value;
    roomSceneRegistry.view = () => ({ position: arr(camera.position), target: controls ? arr(controls.target) : [0, 0, 0] });
    roomSceneRegistry.glideTo = (pose) => { glide.current = pose; };
    return () => {
      roomSceneRegistry.goToPresenter = null;
      roomSceneRegistry.laser = null;
      roomSceneRegistry.avatar = null;
      roomSceneRegistry.fade = null;
      roomSceneRegistry.view = null;
      roomSceneRegistry.glideTo = null;
    };
  });

  useFrame((_state, delta, frame?: XRFrame) => {
    const view = room.store.getState();
    const controller = view.room !== null && view.memberId !== null && view.memberId === view.controller;

    // Fade (teleport): eased towards its target.
    const f = fade.current;
    f.value += Math.sign(f.target - f.value) * Math.min(Math.abs(f.target - f.value), (delta * 1000) / FADE_MS);
    if (fadeMesh.current) {
      fadeMesh.current.visible = f.value > 0.001;
      camera.getWorldPosition(fadeMesh.current.position);
      (fadeMesh.current.material as MeshBasicMaterial).opacity = f.value;
    }

    const g = glide.current;
    if (g && !inXR) {
      const k = 1 - Math.exp(-FOLLOW_RATE * delta);
      camera.position.lerp(v1.set(...g.position), k);
      if (controls) {
        controls.target.lerp(v2.set(...g.target), k);
        controls.update();
      }
      if (camera.position.distanceTo(v1) < 1e-3) glide.current = null;
    }

    if (!view.room) {
      if (beam.current) beam.current.visible = false;
      if (avatar.current) avatar.current.visible = false;
      return;
    }

    if (controller) {
      if (beam.current) beam.current.visible = false;
      if (avatar.current) avatar.current.visible = false;
      shown.current = { laser: null, avatar: null };
      publish(frame);
      return;
    }

    // Followers: the laser.
    const p = view.pointer;
    if (beam.current && dot.current) {
      beam.current.visible = p !== null;
      if (p) {
        const from = new Vector3(...p.origin);
        const to = p.hit ? new Vector3(...p.hit) : new Vector3(...p.direction).normalize().multiplyScalar(BEAM_LENGTH).add(from);
        beam.current.position.copy(from);
        beam.current.lookAt(to);
        beam.current.scale.set(1, 1, Math.max(0.01, from.distanceTo(to)));
        dot.current.position.copy(to);
        shown.current.laser = { from: arr(from), to: arr(to), dot: true };
      } else {
        shown.current.laser = null;
      }
    }

    // The presenter's view: desktop followers glide to it; in VR an avatar stands there.
    const pose = view.camera;
    const following = isFollowing(view);
    if (pose && following && !inXR) {
      const k = 1 - Math.exp(-FOLLOW_RATE * delta);
      camera.position.lerp(v1.set(...pose.position), k);
      if (controls) {
        controls.target.lerp(v2.set(...pose.target), k);
        controls.update();
      } else {
        camera.lookAt(...pose.target);
      }
    }
    const showAvatar = pose !== null && (inXR || !following);
    if (avatar.current) {
      avatar.current.visible = showAvatar;
      if (pose && showAvatar) {
        const head = avatar.current.children[0]!;
        head.position.set(...pose.position);
        head.lookAt(...pose.target);
        const hands = pose.hands ?? [];
        for (let i = 0; i < 2; i++) {
          const hand = avatar.current.children[1 + i]!;
          hand.visible = hands[i] !== undefined;
          if (hands[i]) hand.position.set(...hands[i]!);
        }
        shown.current.avatar = { head: pose.position, hands };
      }
    }
    if (!showAvatar) shown.current.avatar = null;
  });

  /** The controller's camera and laser, sent when they change (room.ts throttles them). */
  function publish(frame: XRFrame | undefined) {
    const sent = lastSent.current;
    let pose: CameraPose;
    let ray: { origin: Vector3; direction: Vector3 } | null = null;
    const session = xrStore.getState().session;
    const { originReferenceSpace, origin } = xrStore.getState();
    if (session && frame && originReferenceSpace) {
      camera.getWorldPosition(v1);
      camera.getWorldQuaternion(q1);
      const ahead = v2.set(0, 0, -2).applyQuaternion(q1).add(v1);
      const hands: Vec3[] = [];
      for (const source of session.inputSources) {
        const p = frame.getPose(source.targetRaySpace, originReferenceSpace);
        if (!p) continue;
        m1.fromArray(p.transform.matrix);
        if (origin) m1.premultiply(origin.matrixWorld);
        const at = new Vector3().setFromMatrixPosition(m1);
        hands.push(arr(at));
        if (source.handedness === 'right' || ray === null) {
          ray = { origin: at, direction: new Vector3(0, 0, -1).applyQuaternion(new Quaternion().setFromRotationMatrix(m1)) };
        }
      }
      pose = { position: arr(v1), target: arr(ahead), hands: hands.slice(0, 2), vr: true };
    } else {
      const target: Vec3 = controls ? arr(controls.target) : arr(camera.getWorldDirection(v2).add(camera.position));
      pose = { position: arr(camera.position), target };
      if (mouse.current.over) {
        raycaster.setFromCamera(mouse.current.ndc, camera);
        // From just below the eye, so a follower sees a beam, not a point.
        ray = { origin: raycaster.ray.origin.clone().add(new Vector3(0, -0.15, 0)), direction: raycaster.ray.direction.clone() };
      }
    }
    // Poses are volatile (a late one is dropped): an unchanged pose is sent again each second, so
    // one lost on the way does not leave the room with a stale view or laser.
    const now = performance.now();
    if (!close(sent.camera, pose.position) || !close(sent.target, pose.target) || pose.vr || now - sent.cameraAt > RESEND_MS) {
      sent.camera = pose.position;
      sent.target = pose.target;
      sent.cameraAt = now;
      room.controls.sendCamera(pose);
    }
    const pointer: PointerPose | null = ray ? { origin: arr(ray.origin), direction: arr(ray.direction), hit: aimedPoint() } : null;
    const key = pointer ? JSON.stringify(pointer.hit) + [...pointer.origin, ...pointer.direction].map((x) => x.toFixed(3)).join() : '';
    if (key !== sent.pointer || (pointer && now - sent.pointerAt > RESEND_MS)) {
      sent.pointer = key;
      sent.pointerAt = now;
      room.controls.sendPointer(pointer);
    }
  }

  return (
    <>
      <group ref={beam} visible={false} name="room-laser">
        <lineSegments geometry={beamGeometry} scale={[1, 1, 1]} renderOrder={10}>
          <lineBasicMaterial color="#ff3b30" transparent opacity={0.9} depthTest={false} />
        </lineSegments>
      </group>
      <mesh ref={dot} name="room-laser-dot" renderOrder={11} visible>
        <sphereGeometry args={[0.05, 16, 12]} />
        <meshBasicMaterial color="#ff3b30" transparent opacity={0.95} depthTest={false} blending={AdditiveBlending} />
      </mesh>
      <group ref={avatar} visible={false} name="presenter-avatar">
        <mesh name="presenter-head">
          <sphereGeometry args={[0.13, 20, 14]} />
          <meshBasicMaterial color="#ff8c1a" />
          <mesh position={[0, 0, -0.13]}>
            <boxGeometry args={[0.16, 0.05, 0.02]} />
            <meshBasicMaterial color="#202020" />
          </mesh>
        </mesh>
        <mesh name="presenter-hand-0"><sphereGeometry args={[0.05, 12, 8]} /><meshBasicMaterial color="#ffb266" /></mesh>
        <mesh name="presenter-hand-1"><sphereGeometry args={[0.05, 12, 8]} /><meshBasicMaterial color="#ffb266" /></mesh>
      </group>
      <mesh ref={fadeMesh} visible={false} renderOrder={1000} name="room-fade">
        <sphereGeometry args={[0.3, 16, 12]} />
        <meshBasicMaterial color="#000000" side={BackSide} transparent opacity={0} depthTest={false} />
      </mesh>
    </>
  );
}

/** In VR, a button at the visitor's side (inside the XR origin): teleport next to the presenter. */
export function GoToPresenterButton() {
  const room = useRoomServices();
  const inXR = useXR((s) => s.session != null);
  const inRoom = useRoomView(room, (v) => v.room !== null && v.memberId !== v.controller && v.camera !== null) === true;
  const texture = useMemo(() => {
    if (typeof document === 'undefined') return null;
    const canvas = document.createElement('canvas');
    canvas.width = 256;
    canvas.height = 64;
    const ctx = canvas.getContext('2d');
    if (ctx) {
      ctx.fillStyle = '#3a2a14';
      ctx.fillRect(0, 0, 256, 64);
      ctx.fillStyle = '#ffffff';
      ctx.font = '28px system-ui, sans-serif';
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText('Go to presenter', 128, 32);
    }
    return new CanvasTexture(canvas);
  }, []);
  if (!room || !inXR || !inRoom) return null;
  return (
    <mesh name="go-to-presenter" position={[0.35, 0.95, -0.45]} rotation={[-0.5, -0.4, 0]} onClick={() => void roomSceneRegistry.goToPresenter?.()}>
      <planeGeometry args={[0.24, 0.06]} />
      <meshBasicMaterial map={texture} />
    </mesh>
  );
}
