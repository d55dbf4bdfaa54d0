/**
 * The space, entrance to far end: token rail, one neuron cloud and one row of heads per layer,
 * the prediction board. Also frames the desktop camera when a model's layout arrives.
 */
import { useThree } from '@react-three/fiber';
import { useEffect } from 'react';
import { ActivationClouds } from './activation-clouds.js';
import { FeatureClouds } from './feature-clouds.js';
import { AimMarker } from './aim-marker.js';
import { SlabFrames } from './slab-frames.js';
import { AttentionHeads } from './attention-heads.js';
import { LayerLabels } from './layer-labels.js';
import { layerZ, type SceneLayout } from './layout.js';
import { PredictionBoard } from './prediction-board.js';
import { TokenRail } from './token-rail.js';

/**
 * The desktop's starting view: three-quarters from beside the entrance, looking at the first
 * few metres of layers (deep models recede into the distance rather than shrinking to fit).
 */
export function desktopView(layout: SceneLayout): { position: [number, number, number]; target: [number, number, number] } {
  const depth = Math.min(10, Math.abs(layerZ(layout, layout.nLayers - 1) - layerZ(layout, 0)));
  const target: [number, number, number] = [0, layout.centreY, layerZ(layout, 0) - depth * 0.5];
  const position: [number, number, number] = [layout.slabWidth / 2 + 0.8 + depth * 0.15, layout.centreY + 0.8 + depth * 0.05, layout.railZ + 3.2];
  return { position, target };
}

export function CircuitScene({ layout }: { layout: SceneLayout }) {
  const camera = useThree((state) => state.camera);
  useEffect(() => {
    const { position, target } = desktopView(layout);
    camera.position.set(...position);
    camera.lookAt(...target);
  }, [camera, layout]);
  return (
    <group name="circuit-scene">
      {/* Only the controller models are lit materials; everything else is unlit. */}
      <ambientLight intensity={1.5} />
      <directionalLight position={[2, 6, 3]} intensity={2} />
      <TokenRail layout={layout} />
      <ActivationClouds layout={layout} />
      <FeatureClouds layout={layout} />
      <SlabFrames layout={layout} />
      <AttentionHeads layout={layout} />
      <LayerLabels layout={layout} />
      <PredictionBoard layout={layout} />
      <AimMarker layout={layout} />
    </group>
  );
}
