/**
 * The live transcoder-feature clouds: per layer one point cloud of its F features (the neuron
 * cloud's shader and grid, layer-cloud.ts), beside the neuron cloud or instead of it, lit as the
 * shown position's features fire. The features arrive sparse in the frames (activation store);
 * the frame loop writes them into each cloud's attribute only when something changed.
 */
import { useFrame, useThree, type ThreeEvent } from '@react-three/fiber';
import { useEffect, useMemo, useRef } from 'react';
import { Vector2, Vector3 } from 'three';
import { useAppServices } from '../state/app-context.js';
import { useAppStore } from '../state/app-store.js';
import { explainFeature, featureViewFor, useFeatureView } from '../state/feature-view.js';
import { createFeatureLayout, featurePosition, type FeatureLayout } from './feature-layout.js';
import { createLayerCloud, type LayerCloud } from './layer-cloud.js';
import type { SceneLayout } from './layout.js';

/** What the clouds show, for tests and tools (window.__circuitsFeatures). */
export const featureCloudRegistry: {
  layout: FeatureLayout | null;
  /** Per layer: features lit (non-zero in the uploaded attribute) at the shown position. */
  lit: number[];
  position: number;
  /** Whether the neuron clouds are drawn (not when the feature clouds take their place). */
  neuronCloudsVisible: () => boolean | null;
  /** Where feature `index` of `layer` is on the page (CSS pixels), or null when the clouds are off. */
  project: (layer: number, index: number) => { x: number; y: number; visible: boolean } | null;
} = { layout: null, lit: [], position: -1, neuronCloudsVisible: () => null, project: () => null };

export function FeatureClouds({ layout }: { layout: SceneLayout }) {
  const services = useAppServices();
  const { app, activations } = services;
  const view = featureViewFor(services);
  const mode = useFeatureView(view, (s) => s.cloud);
  const transcoders = useAppStore(app, (s) => s.model?.transcoders ?? null);
  const F = transcoders ? Math.max(...transcoders.featuresPerLayer) : 0;
  const features = useMemo(() => createFeatureLayout(layout, F, transcoders ? mode : 'off'), [layout, F, mode, transcoders]);
  const clouds = useMemo<LayerCloud[]>(() => {
    if (!features) return [];
    return Array.from({ length: layout.nLayers }, (_, layer) => {
      const cloud = createLayerCloud(features.grid, layer);
      cloud.points.position.x = features.offsetX;
      cloud.points.name = `blocks.${layer}.transcoder`;
      cloud.points.userData = { kind: 'feature-cloud', layer };
      return cloud;
    });
  }, [features, layout.nLayers]);
  useEffect(() => {
    featureCloudRegistry.layout = features;
    featureCloudRegistry.lit = clouds.map(() => 0);
    featureCloudRegistry.position = -1;
    return () => {
      clouds.forEach((cloud) => cloud.dispose());
      featureCloudRegistry.layout = null;
      featureCloudRegistry.lit = [];
    };
  }, [clouds, features]);

  const shown = useRef({ version: -1, position: -1, clouds: clouds });
  const size = useRef(new Vector2());
  const gl = useThree((state) => state.gl);
  const scene = useThree((state) => state.scene);
  const camera = useThree((state) => state.camera);
  useEffect(() => {
    featureCloudRegistry.neuronCloudsVisible = () => scene.getObjectByName('neuron-clouds')?.visible ?? null;
    featureCloudRegistry.project = (layer, index) => {
      if (!features) return null;
      const point = featurePosition(features, layer, index, new Vector3());
      camera.updateMatrixWorld();
      point.project(camera);
      const rect = gl.domElement.getBoundingClientRect();
      return {
        x: rect.left + ((point.x + 1) / 2) * rect.width,
        y: rect.top + ((1 - point.y) / 2) * rect.height,
        visible: point.z > -1 && point.z < 1 && Math.abs(point.x) <= 1 && Math.abs(point.y) <= 1,
      };
    };
  }, [scene, camera, gl, features]);
  useFrame(() => {
    if (clouds.length === 0) return;
    gl.getDrawingBufferSize(size.current);
    for (const cloud of clouds) cloud.setViewportHeight(size.current.y);
    const { position } = app.getState();
    const last = shown.current;
    if (last.version === activations.version && last.position === position && last.clouds === clouds) return;
    clouds.forEach((cloud, l) => {
      activations.readFeatureLayer(position, cloud.layer, cloud.activations);
      let lit = 0;
      for (const v of cloud.activations) if (v > 0) lit++;
      featureCloudRegistry.lit[l] = lit;
      cloud.commit();
      cloud.setRange(activations.featureMax);
    });
    featureCloudRegistry.position = position;
    shown.current = { version: activations.version, position, clouds };
  });

  // A click (or a controller's select) on a feature explains it (Transcoder features panel).
  const onClick = (cloud: LayerCloud) => (event: ThreeEvent<MouseEvent>) => {
    if (event.index === undefined) return;
    event.stopPropagation();
    explainFeature(services, cloud.layer, event.index);
  };
  if (clouds.length === 0) return null;
  return (
    <group name="feature-clouds">
      {clouds.map((cloud) => <primitive key={cloud.layer} object={cloud.points} onClick={onClick(cloud)} />)}
    </group>
  );
}
