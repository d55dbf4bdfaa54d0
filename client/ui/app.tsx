/**
 * The page: the 3D canvas (desktop and XR) under the HTML panels. The services (stores and the
 * connection) are created once by main.tsx and provided to everything.
 */
import { Canvas } from '@react-three/fiber';
import { XR, type XRStore } from '@react-three/xr';
import { useStore } from 'zustand';
import { useMemo } from 'react';
import { AppServicesContext, type AppServices } from '../state/app-context.js';
import { useAppStore } from '../state/app-store.js';
import { CircuitScene, desktopView } from '../scene/circuit-scene.js';
import { DesktopControls } from '../scene/desktop-controls.js';
import { createSceneLayout, type SceneLayout } from '../scene/layout.js';
import { Locomotion } from '../xr/locomotion.js';
import { SelectionPanel3D } from '../xr/selection-panel-3d.js';
import { SqueezeGrab } from '../xr/squeeze-grab.js';
import { Legend } from './legend.js';
import { PredictionsPanel } from './predictions-panel.js';
import { PromptPanel } from './prompt-panel.js';
import { SelectionPanel } from './selection-panel.js';
import { StatusBar } from './status-bar.js';
import { TestHook } from './test-hook.js';
import { TokenScrubber } from './token-scrubber.js';
import { AnalysisScene } from '../analysis/scene/analysis-scene.js';
import { AnalysisPanels } from '../analysis/ui/analysis-panels.js';
import { Circuit2DDock } from '../analysis/ui/circuit-2d-dock.js';
import { NeuronPanel3D } from '../neurons/xr/neuron-panel-3d.js';
import { IndexStatusIndicator } from '../neurons/ui/index-status.js';
import { NeuronDetailsPanel } from '../neurons/ui/neuron-details-panel.js';

function floorFor(layout: SceneLayout | null): { length: number; centreZ: number } {
  if (!layout) return { length: 20, centreZ: -8 };
  const far = layout.boardZ - 2;
  return { length: Math.abs(far) + 4, centreZ: (far + 2) / 2 };
}

/** The Enter VR button lives outside the canvas, so it reads the XR store directly. */
function EnterVRButton({ xrStore }: { xrStore: XRStore }) {
  const session = useStore(xrStore, (state) => state.session);
  return session ? (
    <button type="button" className="enter-vr" data-testid="exit-vr" onClick={() => void session.end()}>Exit VR</button>
  ) : (
    <button type="button" className="enter-vr" data-testid="enter-vr" onClick={() => void xrStore.enterVR()}>Enter VR</button>
  );
}

export function App({ services, xrStore }: { services: AppServices; xrStore: XRStore }) {
  const model = useAppStore(services.app, (state) => state.model);
  const layout = useMemo(
    () => (model ? createSceneLayout({ nLayers: model.nLayers, neuronsPerLayer: model.neuronsPerLayer, nHeads: model.nHeads }) : null),
    [model],
  );
  const floor = floorFor(layout);
  const focus = useMemo<[number, number, number]>(() => (layout ? desktopView(layout).target : [0, 1.5, -4]), [layout]);
  return (
    <AppServicesContext.Provider value={services}>
      <Canvas
        className="scene-canvas"
        camera={{ position: [3, 2.5, 2], fov: 65, near: 0.02, far: 300 }}
        raycaster={{ params: { Points: { threshold: 0.05 }, Mesh: {}, Line: { threshold: 1 }, LOD: {}, Sprite: {} } }}
        dpr={[1, 2]}
        gl={{ preserveDrawingBuffer: true }}
      >
        <XR store={xrStore}>
          <color attach="background" args={['#05060a']} />
          {layout && <CircuitScene layout={layout} />}
          {layout && <AnalysisScene layout={layout} />}
          <DesktopControls target={focus} />
          <Locomotion floorLength={floor.length} floorCentreZ={floor.centreZ}>
            <SelectionPanel3D />
            <NeuronPanel3D />
          </Locomotion>
          <SqueezeGrab />
          <TestHook services={services} xrStore={xrStore} layout={layout} />
        </XR>
      </Canvas>
      <div className="overlay top-left">
        <PromptPanel />
        <PredictionsPanel />
      </div>
      <div className="overlay top-right">
        <StatusBar />
        <IndexStatusIndicator />
        <SelectionPanel />
        <NeuronDetailsPanel />
      </div>
      <div className="overlay bottom">
        <TokenScrubber />
      </div>
      <div className="overlay bottom-left">
        <Legend />
      </div>
      <AnalysisPanels />
      <Circuit2DDock />
      <EnterVRButton xrStore={xrStore} />
    </AppServicesContext.Provider>
  );
}

