/**
 * The page's room (store and controls, see room.ts) per app, registered once by main.tsx, so the
 * Present panel and the scene's laser, camera and avatar reach it without a provider. Also
 * `window.__circuitsRoom` for browser tests.
 */
import { useStore } from 'zustand';
import { useAppServices, type AppServices } from './app-context.js';
import type { RoomControls, RoomStore, RoomView } from './room.js';

export interface RoomServices {
  store: RoomStore;
  controls: RoomControls;
}

/** What only the scene can do or measure (set by client/scene/room-scene.tsx). */
export const roomSceneRegistry: {
  /** VR: teleport next to the presenter's avatar, with a fade. */
  goToPresenter: (() => Promise<void>) | null;
  /** Where the laser is drawn (null when hidden). */
  laser: (() => { from: [number, number, number]; to: [number, number, number]; dot: boolean } | null) | null;
  /** The presenter's avatar (null when not drawn). */
  avatar: (() => { head: [number, number, number]; hands: [number, number, number][] } | null) | null;
  /** Opacity of the teleport fade now (0: clear). */
  fade: (() => number) | null;
  /** The desktop camera's position and orbit target (a tour beat's camera pose). */
  view: (() => { position: [number, number, number]; target: [number, number, number] }) | null;
  /** Glides the desktop camera to a pose (tours; ignored in VR, where nobody's head is moved). */
  glideTo: ((pose: { position: [number, number, number]; target: [number, number, number] }) => void) | null;
} = { goToPresenter: null, laser: null, avatar: null, fade: null, view: null, glideTo: null };

export interface RoomTestHook extends RoomServices {
  goToPresenter: () => Promise<void>;
  laser: () => ReturnType<NonNullable<typeof roomSceneRegistry.laser>> | null;
  avatar: () => ReturnType<NonNullable<typeof roomSceneRegistry.avatar>> | null;
  fade: () => number;
  view: () => ReturnType<NonNullable<typeof roomSceneRegistry.view>> | null;
}

declare global {
  interface Window {
    __circuitsRoom?: RoomTestHook;
  }
}

const byServices = new WeakMap<AppServices, RoomServices>();

export function registerRoom(services: AppServices, room: RoomServices): void {
  byServices.set(services, room);
  if (typeof window !== 'undefined') {
    window.__circuitsRoom = {
      ...room,
      goToPresenter: async () => { await roomSceneRegistry.goToPresenter?.(); },
      laser: () => roomSceneRegistry.laser?.() ?? null,
      avatar: () => roomSceneRegistry.avatar?.() ?? null,
      fade: () => roomSceneRegistry.fade?.() ?? 0,
      view: () => roomSceneRegistry.view?.() ?? null,
    };
  }
}

export function roomFor(services: AppServices): RoomServices | null {
  return byServices.get(services) ?? null;
}

export function useRoomServices(): RoomServices | null {
  return roomFor(useAppServices());
}

const empty = { getState: () => null, subscribe: () => () => {} };

/** A slice of the room's view (null outside a room-enabled page). */
export function useRoomView<T>(room: RoomServices | null, selector: (view: RoomView) => T): T | null {
  return useStore((room?.store ?? empty) as RoomStore, (v: RoomView | null) => (v ? selector(v) : null)) as T | null;
}

/** Whether this page follows the presenter now: in a room, not the controller, not detached. */
export function isFollowing(view: RoomView): boolean {
  return view.room !== null && view.following && view.memberId !== view.controller;
}
