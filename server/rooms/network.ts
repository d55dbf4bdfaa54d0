/**
 * Where phones and headsets can reach this server, for a room's audience link: the addresses it
 * listens on beyond this machine (from its network interfaces when bound to every address), or
 * that it listens on loopback only, which no other device can reach. `npm start -- --present`
 * prints links with the first such address; the page builds its QR code from the same list.
 */
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import type { RoomNetwork } from '../../shared/protocol.js';
import { isLoopbackHost } from '../transport/access.js';

export function roomNetwork(bindHost: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): RoomNetwork {
  if (isLoopbackHost(bindHost)) return { loopbackOnly: true, addresses: [] };
  const host = bindHost.replace(/^\[|\]$/g, '');
  if (host !== '0.0.0.0' && host !== '::') return { loopbackOnly: false, addresses: [host] };
  const external = Object.values(interfaces).flat().filter((a): a is NetworkInterfaceInfo => !!a && !a.internal);
  // IPv4 first (what phones on a home or lecture-hall network use); IPv6 link-local ones (fe80::)
  // need a zone id that a browser's address bar does not take, so they are left out.
  const v4 = external.filter((a) => a.family === 'IPv4').map((a) => a.address);
  const v6 = host === '::' ? external.filter((a) => a.family === 'IPv6' && !/^fe80:/i.test(a.address)).map((a) => a.address) : [];
  return { loopbackOnly: false, addresses: [...new Set([...v4, ...v6])] };
}
