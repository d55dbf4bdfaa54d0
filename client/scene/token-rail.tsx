/**
 * The token rail at the entrance: one block per token (prompt and generated), clickable (mouse
 * or controller ray) to show that position, grabbable by squeezing a controller against it.
 * Tokens are discrete, so React renders them; the rail grows as generated tokens arrive.
 */
import type { ThreeEvent } from '@react-three/fiber';
import { useEffect, useMemo } from 'react';
import { DoubleSide } from 'three';
import { useAppServices } from '../state/app-context.js';
import { choosePosition, grab, useAppStore } from '../state/app-store.js';
import { createCanvasPanel, fillPanelBackground } from './canvas-panel.js';
import { tokenPosition, type SceneLayout } from './layout.js';

export function displayToken(text: string): string {
  return text.replace(/\n/g, '↵').replace(/^ /, '·');
}

function TokenBlock({ layout, position, count, text, active, ready }: {
  layout: SceneLayout;
  position: number;
  count: number;
  text: string;
  active: boolean;
  ready: boolean;
}) {
  const { app } = useAppServices();
  const label = useMemo(() => createCanvasPanel(256, 96), []);
  useEffect(() => {
    label.draw((context, width, height) => {
      fillPanelBackground(context, width, height, active ? '#ffb050' : ready ? '#4a5266' : '#2a2e38');
      context.fillStyle = active ? '#ffe2b8' : '#d8dce6';
      context.font = '600 44px system-ui, sans-serif';
      context.textAlign = 'center';
      context.textBaseline = 'middle';
      context.fillText(displayToken(text), width / 2, height / 2, width - 20);
    }, [text]);
  }, [label, text, active, ready]);
  useEffect(() => () => label.dispose(), [label]);

  const [x, y, z] = tokenPosition(layout, position, count).toArray();
  const onClick = (event: ThreeEvent<MouseEvent>) => {
    event.stopPropagation();
    choosePosition(app, position);
  };
  const onPointerDown = (event: ThreeEvent<PointerEvent>) => {
    if (event.pointerType === 'ray') {
      // A controller's select chooses on press (a held trigger is not a cancelled click).
      event.stopPropagation();
      choosePosition(app, position);
    } else if (event.pointerType === 'grab') {
      event.stopPropagation();
      grab(app, { kind: 'token', position, hand: 'grab' });
    }
  };
  return (
    <mesh
      name={`token-${position}`}
      userData={{ kind: 'token', position }}
      position={[x, y, z]}
      onClick={onClick}
      onPointerDown={onPointerDown}
    >
      <boxGeometry args={[layout.tokenSpacing * 0.9, 0.11, 0.05]} />
      <meshBasicMaterial map={label.texture} side={DoubleSide} />
    </mesh>
  );
}

export function TokenRail({ layout }: { layout: SceneLayout }) {
  const { app } = useAppServices();
  const tokens = useAppStore(app, (state) => state.tokens);
  const position = useAppStore(app, (state) => state.position);
  const framesReady = useAppStore(app, (state) => state.framesReady);
  return (
    <group name="token-rail">
      {tokens.map((token, index) => (
        <TokenBlock
          key={index}
          layout={layout}
          position={index}
          count={tokens.length}
          text={token.text}
          active={index === position}
          ready={index < framesReady}
        />
      ))}
    </group>
  );
}
