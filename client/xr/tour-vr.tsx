/**
 * Tours in VR: the caption hangs ahead of the visitor, above the content, while a beat plays, and
 * the controllers step the tour (right A or left Y: next; right B or left X: previous; on a
 * button's press, not while held). Nothing here moves the visitor: a beat's camera pose is for
 * desktop viewers (tour-camera.tsx does nothing in XR).
 */
import { useFrame } from '@react-three/fiber';
import { useXR, useXRInputSourceState } from '@react-three/xr';
import { useEffect, useMemo, useRef } from 'react';
import { useStore } from 'zustand';
import { createCanvasPanel, fillPanelBackground } from '../scene/canvas-panel.js';
import { useRoomServices, useRoomView } from '../state/room-services.js';
import { roomCaption } from '../state/tour-room.js';
import { useTour } from '../state/tour-services.js';
import { panelPosition, panelRotation, type PanelPlacement } from './panel-placement.js';

/** Ahead and high, like subtitles on a high screen: above the rail's line of sight, clear of the
 * neuron panel (right) and the selection panel (left); its text spans more than 1° of view. */
export const tourCaptionPlacement: PanelPlacement = {
  name: 'tour-caption', yaw: 5, pitch: 28, distance: 1.5, width: 0.9, height: 0.3, canvasWidth: 1000, minFontPx: 30,
};

/** Controller buttons that step a tour, by the gamepad component's name. */
export const tourButtons: Record<string, 1 | -1> = { 'a-button': 1, 'y-button': 1, 'b-button': -1, 'x-button': -1 };

/** The step for buttons pressed now that were not pressed before (first one wins), or null. */
export function tourButtonStep(pressedNow: ReadonlySet<string>, pressedBefore: ReadonlySet<string>): 1 | -1 | null {
  for (const name of pressedNow) if (!pressedBefore.has(name) && tourButtons[name]) return tourButtons[name]!;
  return null;
}

/** Words wrapped into lines of at most `width` pixels. */
function wrap(context: CanvasRenderingContext2D, text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    const next = line ? `${line} ${word}` : word;
    if (context.measureText(next).width > width && line) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

declare global {
  interface Window {
    /** The VR caption's drawn lines and whether it is shown (browser tests). */
    __circuitsTourCaption?: () => string[];
    __circuitsTourCaptionVisible?: () => boolean;
  }
}

export function TourVR() {
  const { player } = useTour();
  const inXR = useXR((state) => state.session != null);
  const right = useXRInputSourceState('controller', 'right');
  const left = useXRInputSourceState('controller', 'left');
  const placement = tourCaptionPlacement;
  const canvasHeight = Math.round((placement.canvasWidth * placement.height) / placement.width);
  const panel = useMemo(() => createCanvasPanel(placement.canvasWidth, canvasHeight), [placement, canvasHeight]);
  const position = useMemo(() => panelPosition(placement), [placement]);
  const rotation = useMemo(() => panelRotation(placement), [placement]);
  const pressed = useRef<Set<string>>(new Set());
  const caption = useStore(player.store, (s) => s.caption);
  // A follower in a presentation room: the presenter's caption, through the room's state.
  const room = useRoomServices();
  const fromRoom = useRoomView(room, roomCaption);

  useEffect(() => {
    const redraw = () => {
      const { caption: own, index, tour } = player.store.getState();
      const roomView = room?.store.getState();
      const caption = own ?? (roomView ? roomCaption(roomView) : null);
      panel.draw((context, width, height) => {
        fillPanelBackground(context, width, height);
        context.fillStyle = '#eef0f5';
        context.font = '34px system-ui, sans-serif';
        context.textBaseline = 'top';
        const lines = wrap(context, caption ?? '', width - 60).slice(0, 6);
        lines.forEach((line, i) => context.fillText(line, 30, 20 + i * 42));
        context.fillStyle = '#c0c6d4';
        context.font = '30px system-ui, sans-serif';
        context.fillText(own ? `${index + 1} / ${tour?.beats.length ?? 0}   A ▶   B ◀` : 'the presenter\'s tour', 30, height - 42);
      }, [caption ?? '']);
    };
    redraw();
    window.__circuitsTourCaption = () => panel.lines;
    const unsubscribe = player.store.subscribe(redraw);
    const unsubscribeRoom = room?.store.subscribe((now, before) => { if (now.state.caption !== before.state.caption || now.controller !== before.controller) redraw(); });
    return () => {
      unsubscribe();
      unsubscribeRoom?.();
      panel.dispose();
    };
  }, [player, panel, room]);

  useFrame(() => {
    if (!inXR) return;
    const now = new Set<string>();
    for (const source of [right, left]) {
      for (const name of Object.keys(tourButtons)) if (source?.gamepad[name]?.state === 'pressed') now.add(name);
    }
    const step = tourButtonStep(now, pressed.current);
    pressed.current = now;
    if (step === null || (player.store.getState().tour?.beats.length ?? 0) === 0) return;
    void (step > 0 ? player.next() : player.previous());
  });

  const shown = inXR && (caption ?? fromRoom) !== null;
  useEffect(() => {
    window.__circuitsTourCaptionVisible = () => shown;
  }, [shown]);
  return (
    <mesh name="xr-tour-caption" visible={shown} position={position} rotation={rotation}>
      <planeGeometry args={[placement.width, placement.height]} />
      <meshBasicMaterial map={panel.texture} transparent />
    </mesh>
  );
}
