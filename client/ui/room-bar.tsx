/**
 * The room bar: a Present button that opens a room with this page as presenter (then the audience
 * link with its QR code, drawn here from the link, nothing fetched), and in a room a line that
 * always says whether this page presents, follows the presenter or explores on its own, with one
 * button to detach or rejoin; the owner lists members, hands control over and takes it back.
 */
import qrcode from 'qrcode-generator';
import { useEffect, useMemo, useState } from 'react';
import { isFollowing, useRoomServices, useRoomView } from '../state/room-services.js';
import type { RoomMember } from '../state/room.js';
import { currentEngine } from '../state/engine-choice.js';
import './room.css';

/** A QR code of `text` as a PNG data URL (error correction M, automatic size). */
export function qrDataUrl(text: string, cellSize = 4): string {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  return qr.createDataURL(cellSize, 2);
}

const short = (id: string) => id.slice(0, 6);

export function RoomBar() {
  const room = useRoomServices();
  const inRoom = useRoomView(room, (v) => v.room);
  const view = useRoomView(room, (v) => v);
  const [busy, setBusy] = useState(false);
  const [shareOpen, setShareOpen] = useState(true);
  const [members, setMembers] = useState<RoomMember[] | null>(null);
  const audienceLink = view?.audienceLink ?? null;
  const qr = useMemo(() => (audienceLink ? qrDataUrl(audienceLink) : null), [audienceLink]);
  const controller = view !== null && view.memberId !== null && view.memberId === view.controller;
  const canManage = view !== null && (view.owner || controller);

  useEffect(() => {
    if (!room || !inRoom || !canManage) return;
    let live = true;
    const refresh = () => void room.controls.members().then((m) => { if (live) setMembers(m); }, () => {});
    refresh();
    const timer = setInterval(refresh, 3000);
    return () => { live = false; clearInterval(timer); };
  }, [room, inRoom, canManage, view?.controller]);

  if (!room || !view) return null;
  // Rooms are relayed by the server: none in the static build, unavailable with in-browser inference.
  const engine = currentEngine();
  if (engine.staticBuild) return null;
  if (engine.serverOnlyReason && !view.room) {
    return (
      <div className="room-bar" data-testid="room-bar">
        <div className="room-line idle">
          <button type="button" data-testid="present-button" disabled title={engine.serverOnlyReason}>Present</button>
          <span className="room-unavailable" data-testid="present-unavailable">Presenting needs inference on the server</span>
        </div>
      </div>
    );
  }
  const present = async () => {
    setBusy(true);
    try {
      await room.controls.present();
    } catch {
      // The reason is in the room store's error, shown below.
    } finally {
      setBusy(false);
    }
  };

  if (!view.room) {
    return (
      <div className="room-bar" data-testid="room-bar">
        <div className="room-line idle">
          <button type="button" data-testid="present-button" disabled={busy} onClick={present} title="Open a presentation room: everyone with the audience link sees what you do">
            Present
          </button>
        </div>
        {view.error && <div className="room-error panel" data-testid="room-error">{view.error}</div>}
      </div>
    );
  }

  const following = isFollowing(view);
  const status = controller ? 'Presenting: the room sees what you do' : following ? 'Following the presenter' : 'Not following: exploring on your own';
  const tone = controller ? 'presenting' : following ? 'following' : 'detached';
  return (
    <div className="room-bar" data-testid="room-bar" data-following={following} data-controller={controller}>
      <div className="room-line">
        <span className={`room-status ${tone}`} data-testid="room-status">{status}</span>
        {!controller && (view.following
          ? <button type="button" data-testid="follow-toggle" onClick={() => room.controls.detach()} title="Take your own camera and selection; the presenter's runs still arrive">Detach</button>
          : <button type="button" data-testid="follow-toggle" onClick={() => room.controls.rejoin()} title="Follow the presenter again">Rejoin</button>)}
        {view.owner && !controller && (
          <button type="button" data-testid="take-control" onClick={() => void room.controls.takeBack().catch(() => {})}>Take control back</button>
        )}
        {audienceLink && (
          <button type="button" className="link" data-testid="share-toggle" onClick={() => setShareOpen(!shareOpen)}>{shareOpen ? 'Hide link' : 'Audience link'}</button>
        )}
      </div>
      {audienceLink && shareOpen && (
        <div className="room-share panel" data-testid="room-share">
          {qr && <img src={qr} alt={`QR code of the audience link ${audienceLink}`} data-testid="audience-qr" />}
          <div>
            <div>Audience link (no control token: viewers can follow, not drive):</div>
            <div className="room-link" data-testid="audience-link">{audienceLink}</div>
            {view.audienceOthers.length > 0 && <div className="muted" data-testid="audience-others">Also: {view.audienceOthers.join(' · ')}</div>}
            {view.audienceNote && <p className="room-note" role="note" data-testid="audience-note">{view.audienceNote}</p>}
          </div>
        </div>
      )}
      {canManage && members && members.length > 1 && (
        <div className="panel">
          <div>In the room ({members.length}):</div>
          <ul className="room-members" data-testid="room-members">
            {members.map((m) => (
              <li key={m.id} data-member={m.id}>
                <span>{m.id === view.memberId ? 'you' : `viewer ${short(m.id)}`}{m.owner ? ' (owner)' : ''}{m.controller ? ' — presenting' : ''}</span>
                {!m.controller && controller && m.id !== view.memberId && (
                  <button type="button" data-testid={`hand-${m.id}`} onClick={() => void room.controls.handTo(m.id).catch(() => {})}>Hand control</button>
                )}
              </li>
            ))}
          </ul>
        </div>
      )}
      {view.error && <div className="room-error panel" data-testid="room-error">{view.error}</div>}
    </div>
  );
}
