/**
 * One tour player, recorder and replayer per app (keyed by its services, like the analysis
 * services), shared by the Tour panel, the caption overlay, the VR buttons and the keys.
 * Publishes `window.__circuitsTour` for browser tests.
 */
import { analysisServicesFor } from '../analysis/state/analysis-services.js';
import { useAppServices, type AppServices } from './app-context.js';
import { roomFor } from './room-services.js';
import { linkTourToRoom } from './tour-room.js';
import { createTourPlayer, type TourPlayer } from './tour-player.js';
import { createRecorder, createReplayer, type Recorder, type Replayer } from './tour-recorder.js';

export interface TourServices {
  player: TourPlayer;
  recorder: Recorder;
  replayer: Replayer;
}

declare global {
  interface Window {
    __circuitsTour?: TourServices;
  }
}

const byServices = new WeakMap<AppServices, TourServices>();

export function tourServicesFor(services: AppServices): TourServices {
  let tour = byServices.get(services);
  if (!tour) {
    const context = { services, analysis: analysisServicesFor(services) };
    const player = createTourPlayer(context);
    const recorder = createRecorder(context, services.connection.backend);
    player.onBeat((beat) => recorder.caption(beat.caption));
    tour = { player, recorder, replayer: createReplayer(context) };
    byServices.set(services, tour);
    // In a presentation room, the caption on screen reaches the followers (tour-room.ts).
    const room = roomFor(services);
    if (room) linkTourToRoom(tour, services.connection.backend, room.store, room.controls);
    if (typeof window !== 'undefined') window.__circuitsTour = tour;
  }
  return tour;
}

export function useTour(): TourServices {
  return tourServicesFor(useAppServices());
}
