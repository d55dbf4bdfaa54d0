/**
 * The Tour panel (right dock): present a tour (the bundled one, or a file), step through it,
 * record beats from the current view, reorder them, edit captions, save the tour as a JSON file;
 * and record the session, save the recording, replay one (play/pause, step, jump with the slider,
 * the camera free unless "camera follows"). The caption of the beat on screen is shown over the
 * scene by TourCaption. Keys: → / Page Down next, ← / Page Up previous (setupTourKeys).
 */
import { useEffect, useRef, useState } from 'react';
import { useStore } from 'zustand';
import inductionTour from '../../assets/tours/induction.json';
import { useAppServices } from '../state/app-context.js';
import { useAppStore } from '../state/app-store.js';
import { setupTourKeys } from '../state/tour-player.js';
import { useRoomServices, useRoomView } from '../state/room-services.js';
import { roomCaption } from '../state/tour-room.js';
import { useTour } from '../state/tour-services.js';
import { DockSection } from './dock-section.js';

/** Offers `text` as a file download. */
function download(text: string, fileName: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

const fileNameFor = (title: string) => `${title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'tour'}.json`;

export function TourPanel() {
  const { player, recorder, replayer } = useTour();
  const { app } = useAppServices();
  const tour = useStore(player.store, (s) => s.tour);
  const index = useStore(player.store, (s) => s.index);
  const phase = useStore(player.store, (s) => s.phase);
  const error = useStore(player.store, (s) => s.error);
  const model = useAppStore(app, (s) => s.model);
  const [caption, setCaption] = useState('');
  const tourFile = useRef<HTMLInputElement>(null);

  const readFile = (input: HTMLInputElement | null, load: (text: string) => boolean) => {
    const file = input?.files?.[0];
    if (!file) return;
    void file.text().then((text) => {
      load(text);
      if (input) input.value = '';
    });
  };
  const beats = tour?.beats ?? [];
  return (
    <DockSection name="tour" title={tour ? `Tour: ${tour.title}` : 'Tour'} testId="tour-panel" defaultCollapsed>
      <div className="row">
        <button type="button" data-testid="tour-bundled" title="How a small model copies: its induction heads (for the bundled model)" onClick={() => player.load(inductionTour, 'bundled tour')}>Bundled tour</button>
        <button type="button" data-testid="tour-load" onClick={() => tourFile.current?.click()}>Load…</button>
        <input ref={tourFile} type="file" accept=".json,application/json" hidden data-testid="tour-file" onChange={(e) => readFile(e.currentTarget, (text) => player.load(text))} />
        <button type="button" data-testid="tour-save" disabled={beats.length === 0} onClick={() => { const text = player.save(); if (text && tour) download(text, fileNameFor(tour.title)); }}>Save</button>
        {tour && <button type="button" className="link" data-testid="tour-close" onClick={() => player.close()}>Close</button>}
      </div>
      {tour && (
        <>
          {tour.model && model && tour.model !== model.name && (
            <p className="muted" data-testid="tour-model-note">Made for {tour.model}; this server runs {model.name}: its heads and neurons may not be the ones the captions name.</p>
          )}
          <input className="tour-title" data-testid="tour-title" aria-label="Tour title" value={tour.title} onChange={(e) => player.setTitle(e.currentTarget.value)} />
          <div className="row tour-nav">
            <button type="button" data-testid="tour-previous" disabled={index <= 0} title="Previous beat (← or Page Up)" onClick={() => void player.previous()}>◀</button>
            <span data-testid="tour-position" data-phase={phase}>{index + 1} / {beats.length}</span>
            <button type="button" data-testid="tour-next" disabled={index + 1 >= beats.length} title="Next beat (→ or Page Down)" onClick={() => void player.next()}>▶</button>
            <span className="muted">{phase === 'applying' ? 'showing…' : phase === 'moving' ? 'moving…' : ''}</span>
          </div>
          <ol className="tour-beats" data-testid="tour-beats">
            {beats.map((beat, i) => (
              <li key={i} className={i === index ? 'current' : undefined} data-testid="tour-beat">
                <textarea rows={2} aria-label={`Caption of beat ${i + 1}`} value={beat.caption} onChange={(e) => player.setCaption(i, e.currentTarget.value)} />
                <div className="row">
                  <button type="button" title="Show this beat" data-testid="tour-beat-play" onClick={() => void player.goTo(i)}>▶ {i + 1}</button>
                  <button type="button" title="Move up" disabled={i === 0} data-testid="tour-beat-up" onClick={() => player.move(i, -1)}>▲</button>
                  <button type="button" title="Move down" disabled={i === beats.length - 1} data-testid="tour-beat-down" onClick={() => player.move(i, 1)}>▼</button>
                  <button type="button" title="Remove this beat" data-testid="tour-beat-remove" onClick={() => player.remove(i)}>✕</button>
                  <span className="muted">{beat.view.action ?? ''}{beat.view.head ? ` · L${beat.view.head.layer}H${beat.view.head.head}` : ''}{beat.view.neuron ? ` · n ${beat.view.neuron.layer}/${beat.view.neuron.neuron}` : ''}</span>
                </div>
              </li>
            ))}
          </ol>
        </>
      )}
      <div className="row">
        <input className="tour-caption-input" data-testid="tour-record-caption" placeholder="Caption for a new beat" value={caption} onChange={(e) => setCaption(e.currentTarget.value)} />
        <button type="button" data-testid="tour-record" disabled={model === null} title="Add a beat from what is on screen now (prompt, selection, question, circuit, camera)" onClick={() => { player.record(caption); setCaption(''); }}>+ Beat</button>
      </div>
      {error && <p className="error" data-testid="tour-error">{error}</p>}
      <RecordingSection recorder={recorder} replayer={replayer} />
    </DockSection>
  );
}

function RecordingSection({ recorder, replayer }: Pick<ReturnType<typeof useTour>, 'recorder' | 'replayer'>) {
  const { app } = useAppServices();
  const recording = useStore(recorder.store, (s) => s.recording);
  const recorded = useStore(recorder.store, (s) => s.count);
  const note = useStore(recorder.store, (s) => s.note);
  const loaded = useStore(replayer.store, (s) => s.recording);
  const index = useStore(replayer.store, (s) => s.index);
  const playing = useStore(replayer.store, (s) => s.playing);
  const follow = useStore(replayer.store, (s) => s.followCamera);
  const error = useStore(replayer.store, (s) => s.error);
  const file = useRef<HTMLInputElement>(null);
  const events = loaded?.events ?? [];
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return (
    <div className="tour-recording" data-testid="tour-recording">
      <h3>Session recording</h3>
      <div className="row">
        {recording
          ? <button type="button" data-testid="recording-stop" onClick={() => recorder.stop()}>■ Stop ({recorded})</button>
          : <button type="button" data-testid="recording-start" onClick={() => recorder.start()}>● Record</button>}
        <button type="button" data-testid="recording-save" disabled={recording || recorded === 0} onClick={() => {
          const text = recorder.toFile(app.getState().model?.name);
          if (text) download(text, `circuits-xr-session-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}.json`);
        }}>Save</button>
        <button type="button" data-testid="recording-load" onClick={() => file.current?.click()}>Replay…</button>
        <input ref={file} type="file" accept=".json,application/json" hidden data-testid="recording-file" onChange={(e) => {
          const input = e.currentTarget;
          const chosen = input.files?.[0];
          if (chosen) void chosen.text().then((text) => { replayer.load(text); input.value = ''; });
        }} />
      </div>
      {loaded && (
        <>
          <div className="row">
            {playing
              ? <button type="button" data-testid="replay-pause" onClick={() => replayer.pause()}>❚❚</button>
              : <button type="button" data-testid="replay-play" onClick={() => void replayer.play()}>▶</button>}
            <button type="button" data-testid="replay-back" disabled={index <= 0} onClick={() => void replayer.step(-1)}>◀ step</button>
            <button type="button" data-testid="replay-step" disabled={index >= events.length - 1} onClick={() => void replayer.step(1)}>step ▶</button>
            <span data-testid="replay-position" className="muted">{index + 1} / {events.length} · {seconds(index >= 0 ? events[index]!.t : 0)} of {seconds(events.at(-1)?.t ?? 0)}</span>
          </div>
          <input type="range" className="replay-slider" data-testid="replay-slider" aria-label="Jump to event" min={0} max={Math.max(0, events.length - 1)} value={Math.max(0, index)} onChange={(e) => void replayer.jump(Number(e.currentTarget.value))} />
          <div className="row">
            <label><input type="checkbox" data-testid="replay-follow-camera" checked={follow} onChange={(e) => replayer.setFollowCamera(e.currentTarget.checked)} /> camera follows the recording</label>
            <button type="button" className="link" data-testid="replay-close" onClick={() => replayer.close()}>Close replay</button>
          </div>
        </>
      )}
      {note && <p className="muted" data-testid="recording-note">{note}</p>}
      {error && <p className="error" data-testid="replay-error">{error}</p>}
    </div>
  );
}

/** The caption of the beat (or replayed caption) on screen, over the scene, above the scrubber. */
export function TourCaption() {
  const { player, replayer } = useTour();
  const caption = useStore(player.store, (s) => s.caption);
  const replayCaption = useStore(replayer.store, (s) => (s.recording ? s.caption : null));
  const index = useStore(player.store, (s) => s.index);
  const count = useStore(player.store, (s) => s.tour?.beats.length ?? 0);
  // A follower in a presentation room: the presenter's caption, through the room's state.
  const fromRoom = useRoomView(useRoomServices(), roomCaption);
  // Here, not in the panel: the keys keep working with the docks folded away.
  useEffect(() => setupTourKeys(player), [player]);
  const shown = caption ?? replayCaption ?? fromRoom;
  if (!shown) return null;
  return (
    <div className="tour-caption" data-testid="tour-caption" role="status" aria-live="polite">
      <p>{shown}</p>
      {caption && <span className="muted">{index + 1} / {count} · → next · ← previous</span>}
      {!caption && !replayCaption && fromRoom && <span className="muted">the presenter's tour</span>}
    </div>
  );
}
