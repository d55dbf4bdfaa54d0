/**
 * Aim feedback: the neuron or token a controller ray (or the mouse) is over, before any trigger,
 * gets a ring around it and a small label ("L1/N219 0.42", "token 3 “·the”") that faces the
 * viewer and keeps a constant angular size (about 2.5° tall) at any distance. Redrawn when the
 * aimed item changes; the frame loop only turns and scales it (no allocation).
 */
import { useFrame } from '@react-three/fiber';
import { useEffect, useMemo, useRef } from 'react';
import { DoubleSide, Vector3, type Group } from 'three';
import { useAppServices } from '../state/app-context.js';
import type { AppState } from '../state/app-store.js';
import type { ActivationStore } from '../state/activation-store.js';
import { displayTokens } from '../state/token-text.js';
import { createCanvasPanel, fillPanelBackground } from './canvas-panel.js';
import { neuronPosition, tokenPosition, type SceneLayout } from './layout.js';

/** What the label says about the aimed item, or null when nothing is aimed at. */
export function aimLabel(state: AppState, activations: ActivationStore): string | null {
  const aimed = state.aimed;
  if (!aimed) return null;
  if (aimed.kind === 'token') {
    const token = state.tokens[aimed.position];
    if (!token) return null;
    return `token ${aimed.position} “${displayTokens([token])[0]!.text}”`;
  }
  const value = activations.neuron(state.position, aimed.layer, aimed.neuron);
  return `L${aimed.layer}/N${aimed.neuron}  ${value >= 0 ? '+' : ''}${value.toFixed(2)}`;
}

/** Registry for tests: the label's current text. */
export const aimMarkerRegistry: { text: string | null } = { text: null };

const labelAngle = (2.5 * Math.PI) / 180;
const aspect = 4;

export function AimMarker({ layout }: { layout: SceneLayout }) {
  const { app, activations } = useAppServices();
  const group = useRef<Group>(null);
  const label = useMemo(() => createCanvasPanel(512, 128), []);
  const target = useMemo(() => new Vector3(), []);
  const toCamera = useMemo(() => new Vector3(), []);
  useEffect(() => {
    const update = (state: AppState) => {
      const text = aimLabel(state, activations);
      aimMarkerRegistry.text = text;
      if (!group.current) return;
      group.current.visible = text !== null;
      if (!text || !state.aimed) return;
      if (state.aimed.kind === 'neuron') neuronPosition(layout, state.aimed.layer, state.aimed.neuron, target);
      else tokenPosition(layout, state.aimed.position, state.tokens.length, target);
      group.current.position.copy(target);
      label.draw((context, width, height) => {
        fillPanelBackground(context, width, height, '#ffffff');
        context.fillStyle = '#ffffff';
        context.font = '600 60px system-ui, sans-serif';
        context.textAlign = 'center';
        context.textBaseline = 'middle';
        context.fillText(text, width / 2, height / 2, width - 24);
      }, [text]);
    };
    update(app.getState());
    const unsubscribe = app.subscribe((state, previous) => {
      if (state.aimed !== previous.aimed || (state.aimed && state.position !== previous.position)) update(state);
    });
    return () => {
      unsubscribe();
      aimMarkerRegistry.text = null;
    };
  }, [app, activations, layout, label, target]);
  useEffect(() => () => label.dispose(), [label]);
  useFrame(({ camera }) => {
    const g = group.current;
    if (!g || !g.visible) return;
    camera.getWorldPosition(toCamera);
    const distance = toCamera.distanceTo(g.position);
    g.quaternion.copy(camera.quaternion);
    const height = 2 * distance * Math.tan(labelAngle / 2);
    g.scale.setScalar(height);
  });
  return (
    <group ref={group} name="aim-marker" visible={false}>
      {/* In units of the label's height: a ring around the item, the label above it. */}
      <mesh raycast={() => {}} renderOrder={10}>
        <ringGeometry args={[0.32, 0.45, 24]} />
        <meshBasicMaterial color="#ffffff" side={DoubleSide} depthTest={false} transparent />
      </mesh>
      <mesh position={[0, 1.1, 0]} raycast={() => {}} renderOrder={10}>
        <planeGeometry args={[aspect, 1]} />
        <meshBasicMaterial map={label.texture} side={DoubleSide} depthTest={false} transparent />
      </mesh>
    </group>
  );
}
