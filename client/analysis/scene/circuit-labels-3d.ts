/**
 * Name tags over the circuit's pinned, hovered and grouped nodes in 3D (the 2D panel labels
 * every node; in 3D only these, so the view stays readable): one Sprite per tag, each a small
 * canvas texture, kept while its text stays the same. A handful at a time, never redrawn per
 * frame; each frame only their size follows the eye's distance (`fitTo`), so a tag deep in
 * the model still spans at least readableDegrees (readable-size.ts), never less than its base size.
 */
import { CanvasTexture, Group, SRGBColorSpace, Sprite, SpriteMaterial, Vector3 } from 'three';
import { smallestTextWhile } from '../../scene/canvas-panel.js';
import { textMetresFor } from '../../scene/readable-size.js';

export interface LabelSpec {
  key: string;
  text: string;
  position: [number, number, number];
  /** Hovered or focused: brighter border. */
  strong: boolean;
}

const pixelHeight = 48;
const worldHeight = 0.11;

function makeSprite(text: string, strong: boolean): Sprite {
  const canvas = document.createElement('canvas');
  const context = canvas.getContext('2d')!;
  context.font = `600 ${pixelHeight * 0.6}px system-ui, sans-serif`;
  const width = Math.min(1024, Math.ceil(context.measureText(text).width) + 24);
  canvas.width = width;
  canvas.height = pixelHeight;
  context.fillStyle = 'rgba(14, 16, 22, 0.88)';
  context.fillRect(0, 0, width, pixelHeight);
  context.strokeStyle = strong ? '#ffffff' : '#ffb347';
  context.lineWidth = 4;
  context.strokeRect(2, 2, width - 4, pixelHeight - 4);
  context.fillStyle = '#f0f2f6';
  context.font = `600 ${pixelHeight * 0.6}px system-ui, sans-serif`;
  context.textBaseline = 'middle';
  const minFontPx = smallestTextWhile(context, () => context.fillText(text, 12, pixelHeight / 2));
  const texture = new CanvasTexture(canvas);
  texture.colorSpace = SRGBColorSpace;
  texture.userData.minFontPx = minFontPx;
  const sprite = new Sprite(new SpriteMaterial({ map: texture, depthTest: false, transparent: true }));
  sprite.scale.set((worldHeight * width) / pixelHeight, worldHeight, 1);
  sprite.renderOrder = 5;
  sprite.raycast = () => {};
  sprite.frustumCulled = false; // a handful of tags; and the warm-up tag must draw off-screen
  return sprite;
}

export function createCircuitLabels() {
  const where = new Vector3();
  const group = new Group();
  group.name = 'circuit-labels';
  const shown = new Map<string, { sprite: Sprite; text: string; strong: boolean }>();
  const drop = (key: string) => {
    const entry = shown.get(key)!;
    group.remove(entry.sprite);
    entry.sprite.material.map?.dispose();
    entry.sprite.material.dispose();
    shown.delete(key);
  };
  return {
    group,
    /** The tags drawn now (for tests and tools). */
    texts: () => [...shown.values()].map((entry) => entry.text),
    update(labels: LabelSpec[]) {
      const wanted = new Set(labels.map((label) => label.key));
      for (const key of [...shown.keys()]) if (!wanted.has(key)) drop(key);
      for (const label of labels) {
        let entry = shown.get(label.key);
        if (entry && (entry.text !== label.text || entry.strong !== label.strong)) {
          drop(label.key);
          entry = undefined;
        }
        if (!entry) {
          entry = { sprite: makeSprite(label.text, label.strong), text: label.text, strong: label.strong };
          shown.set(label.key, entry);
          group.add(entry.sprite);
        }
        entry.sprite.position.set(label.position[0], label.position[1] + 0.12, label.position[2]);
      }
    },
    /** Sizes every tag for an eye at `eye` (world): base size, or larger when far. */
    fitTo(eye: Vector3) {
      for (const { sprite } of shown.values()) {
        const image = sprite.material.map!.image as { width: number; height: number };
        const minFontPx = sprite.material.map!.userData.minFontPx as number;
        const distance = sprite.getWorldPosition(where).distanceTo(eye);
        const height = Math.max(worldHeight, (textMetresFor(distance) * image.height) / minFontPx);
        sprite.scale.set((height * image.width) / image.height, height, 1);
      }
    },
    dispose() {
      for (const key of [...shown.keys()]) drop(key);
    },
  };
}
