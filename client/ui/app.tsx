/**
 * The page: the 3D canvas (desktop and XR) under HTML panels docked to the screen's edges so the
 * middle stays clear: the question and next token on the left, status, guide, selection and
 * analysis results on the right, the token scrubber at the bottom between them. Each dock folds
 * away (remembered in localStorage). The services (stores and the connection) are created once by
 * main.tsx and provided to everything.
 */
import { Canvas } from '@react-three/fiber';
import { XR, type XRStore } from '@react-three/xr';
import { useEffect, useMemo } from 'react';
import { AppServicesContext, type AppServices } from '../state/app-context.js';
import { useAppStore } from '../state/app-store.js';
import { CircuitScene, desktopView } from '../scene/circuit-scene.js';
import { DesktopControls } from '../scene/desktop-controls.js';
import { createSceneLayout, type SceneLayout } from '../scene/layout.js';
import { Locomotion } from '../xr/locomotion.js';
import { SelectionPanel3D } from '../xr/selection-panel-3d.js';
import { SqueezeGrab } from '../xr/squeeze-grab.js';
import { VRControls3D } from '../xr/vr-controls-3d.js';
import { Legend } from './legend.js';
import { PredictionsPanel } from './predictions-panel.js';
import { SelectionPanel } from './selection-panel.js';
import { StatusBar } from './status-bar.js';
import { ModelDropZone } from './model-drop.js';
import { TestHook } from './test-hook.js';
import { TokenScrubber } from './token-scrubber.js';
import { AnalysisScene } from '../analysis/scene/analysis-scene.js';
import { AnalysisPanels } from '../analysis/ui/analysis-panels.js';
import { QuestionPanel } from '../analysis/ui/question-panel.js';
import { analysisServicesFor } from '../analysis/state/analysis-services.js';
import { uiPrefs, useUiPrefs } from '../state/ui-prefs.js';
import { Guide } from './guide.js';
import { RecentGraphsPanel } from './recent-graphs-panel.js';
import { setupViewSession } from './view-session.js';
import { Circuit2DDock } from '../analysis/ui/circuit-2d-dock.js';
import { NeuronPanel3D } from '../neurons/xr/neuron-panel-3d.js';
import { IndexStatusIndicator } from '../neurons/ui/index-status.js';
import { NeuronDetailsPanel } from '../neurons/ui/neuron-details-panel.js';
import { TourCamera } from '../scene/tour-camera.js';
import { TourVR } from '../xr/tour-vr.js';
import { TourCaption, TourPanel } from './tour-panel.js';
import { GoToPresenterButton, RoomScene } from '../scene/room-scene.js';
import { RoomBar } from './room-bar.js';
import { setupFeatureView } from './features-panel.js';

function floorFor(layout: SceneLayout | null): { length: number; centreZ: number } {
  if (!layout) return { length: 20, centreZ: -8 };
  const far = layout.boardZ - 2;
  return { length: Math.abs(far) + 4, centreZ: (far + 2) / 2 };
}

export function App({ services, xrStore }: { services: AppServices; xrStore: XRStore }) {
  const model = useAppStore(services.app, (state) => state.model);
  const layout = useMemo(
    () => (model ? createSceneLayout({ nLayers: model.nLayers, neuronsPerLayer: model.neuronsPerLayer, nHeads: model.nHeads }) : null),
    [model],
  );
  const floor = floorFor(layout);
  const view = useMemo(() => (layout ? desktopView(layout) : null), [layout]);
  const focus = useMemo<[number, number, number]>(() => view?.target ?? [0, 1.5, -4], [view]);
  // The question, the link and the run on screen kept as one state (see view-session.ts).
  useEffect(() => setupViewSession(services, analysisServicesFor(services)), [services]);
  useEffect(() => setupFeatureView(services), [services]);
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
          <DesktopControls target={focus} home={view?.position} />
          <TourCamera />
          <Locomotion floorLength={floor.length} floorCentreZ={floor.centreZ}>
            <SelectionPanel3D />
            <NeuronPanel3D />
            <VRControls3D />
            <TourVR />
            <GoToPresenterButton />
          </Locomotion>
          <RoomScene layout={layout} />
          <SqueezeGrab />
          <TestHook services={services} xrStore={xrStore} layout={layout} />
        </XR>
      </Canvas>
      <Docks xrStore={xrStore} />
      <RoomBar />
      <ModelDropZone />
    </AppServicesContext.Provider>
  );
}


function DockToggle({ side }: { side: 'left' | 'right' }) {
  const open = useUiPrefs((s) => (side === 'left' ? s.leftOpen : s.rightOpen));
  const label = side === 'left' ? (open ? '◀' : '▶ Question') : open ? '▶' : '◀ Panels';
  return (
    <button
      type="button"
      className={`dock-toggle ${side}`}
      data-testid={`dock-toggle-${side}`}
      aria-expanded={open}
      title={open ? 'Hide these panels' : 'Show the panels'}
      onClick={() => uiPrefs.setState(side === 'left' ? { leftOpen: !open } : { rightOpen: !open })}
    >
      {label}
    </button>
  );
}

/** The HTML panels, docked to the edges. */
function Docks({ xrStore }: { xrStore: XRStore }) {
  const leftOpen = useUiPrefs((s) => s.leftOpen);
  const rightOpen = useUiPrefs((s) => s.rightOpen);
  const tab = useUiPrefs((s) => s.analysisTab);
  return (
    // One wrapper so the docks share their widths (CSS variables): the bottom dock stays between them.
    <div className="docks" data-tab={tab}>
      <aside className={leftOpen ? 'dock dock-left' : 'dock dock-left closed'} data-testid="dock-left">
        <DockToggle side="left" />
        {leftOpen && (
          <>
            <QuestionPanel />
            <PredictionsPanel />
          </>
        )}
      </aside>
      <aside className={rightOpen ? 'dock dock-right' : 'dock dock-right closed'} data-testid="dock-right">
        <div className="dock-top">
          <StatusBar xrStore={xrStore} foldButton={<DockToggle side="right" />} />
        </div>
        {rightOpen && (
          <>
            <Guide />
            <IndexStatusIndicator />
            <SelectionPanel />
            <NeuronDetailsPanel />
            <AnalysisPanels />
            {/* Folded, the two share one row (styles.css .dock-row); opened, each takes the dock's width. */}
            <div className="dock-row">
              <RecentGraphsPanel />
              <TourPanel />
            </div>
            <Legend />
          </>
        )}
      </aside>
      <div className="dock-bottom">
        <TokenScrubber />
      </div>
      <Circuit2DDock />
      <TourCaption />
    </div>
  );
}
