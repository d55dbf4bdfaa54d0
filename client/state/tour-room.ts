/**
 * Tour captions in a presentation room. The caption on the presenter's page (the tour beat's, or
 * the one a replay shows) goes into the room's shared state as `caption` ('room:state', checked
 * by the server like any other field), and null when there is none, e.g. once the tour is closed.
 * Followers then show the room's caption with the same overlay (`roomCaption`), and a late joiner
 * gets it in the snapshot.
 */
import type { RoomView } from './room.js';
import type { RoomControls, RoomStore } from './room.js';
import type { Backend } from './backend.js';
import type { TourPlayer } from './tour-player.js';
import type { Replayer } from './tour-recorder.js';

/** The caption the presenter's page shows now: its tour beat's, else its replay's. */
export function shownCaption(player: TourPlayer, replayer: Replayer | null): string | null {
  const beat = player.store.getState().caption;
  if (beat) return beat;
  const replay = replayer?.store.getState();
  return replay?.recording ? replay.caption : null;
}

/** The room's caption as an audience member sees it (null on the presenter's own page or outside a room). */
export function roomCaption(view: RoomView): string | null {
  if (view.room === null || view.memberId === null || view.memberId === view.controller) return null;
  const caption = view.state.caption;
  return typeof caption === 'string' && caption.trim() !== '' ? caption : null;
}

/**
 * Sends the page's caption to the room whenever it changes while this page has control (and when
 * it gains control, if the room shows another one). Returns the function that unlinks it.
 */
export function linkTourToRoom(
  tour: { player: TourPlayer; replayer: Replayer | null }, socket: Backend, room: RoomStore, controls: RoomControls,
): () => void {
  let sent: string | null | undefined;
  const sync = () => {
    if (!room.getState().room || !controls.isController()) return;
    const caption = shownCaption(tour.player, tour.replayer);
    if (caption === sent || (sent === undefined && (room.getState().state.caption ?? null) === caption)) return;
    sent = caption;
    socket.emit('room:state', { caption }, (r) => { if (!r.ok) room.setState({ error: `${r.error.code}: ${r.error.message}` }); });
  };
  const unsubscribes = [
    tour.player.store.subscribe(sync),
    ...(tour.replayer ? [tour.replayer.store.subscribe(sync)] : []),
    room.subscribe((now, before) => {
      // Gaining control (opening a room, control handed back): what the room shows may be another page's.
      if (now.controller !== before.controller || now.memberId !== before.memberId || now.room !== before.room) {
        sent = undefined;
        sync();
      }
    }),
  ];
  sync();
  return () => unsubscribes.forEach((u) => u());
}
