/**
 * The audience link a presenter shares (and its QR code): built from the page's own address, but
 * phones cannot open `localhost`. When the presenter's page is on a loopback address and the
 * server listens beyond it, the link names the server's first network address instead (same
 * scheme and port as the page); when the server listens on loopback only, the link stays and a
 * note says in words why phones cannot use it and how to start the server so they can.
 */
import type { RoomNetwork } from '../../shared/protocol.js';

export interface AudienceLink {
  /** The link to share and encode in the QR code. */
  link: string;
  /** The same link on the server's other network addresses. */
  others: string[];
  /** Said under the QR code when phones cannot use the link (null: nothing to say). */
  note: string | null;
}

export const LOOPBACK_NOTE = 'Phones and headsets cannot open this link: the server listens on this machine only (loopback). '
  + 'To present to other devices, stop it and start it on your network with `npm start -- --https --host 0.0.0.0` '
  + '(https: headsets need it for VR), open the link it prints here, and press Present again.';

export function isLoopbackName(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\./.test(h);
}

export function audienceLinkFor(origin: string, audienceQuery: string, network: RoomNetwork | null | undefined): AudienceLink {
  const page = new URL(origin);
  const at = (host: string) => {
    const url = new URL(page.href);
    url.hostname = host.includes(':') ? `[${host}]` : host;
    return `${url.origin}/${audienceQuery}`;
  };
  const own = `${page.origin}/${audienceQuery}`;
  if (!network || !isLoopbackName(page.hostname)) return { link: own, others: [], note: null };
  if (network.loopbackOnly) return { link: own, others: [], note: LOOPBACK_NOTE };
  const [first, ...rest] = network.addresses;
  if (first === undefined) {
    return { link: own, others: [], note: 'Phones and headsets cannot open this localhost link, and the server found no network address of this machine (is it connected to a network?).' };
  }
  return { link: at(first), others: rest.map(at), note: null };
}
