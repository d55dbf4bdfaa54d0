/**
 * The audience link phones can reach (issue 12):
 * - `roomNetwork` (server): which addresses a server bound to `--host` can be reached on, from a
 *   table of network interfaces as os.networkInterfaces() gives them;
 * - 'room:open' on real servers: bound to 127.0.0.1 it says loopback only; bound to 0.0.0.0 it
 *   answers this machine's network addresses, and the owner's 'room:joined' carries them too;
 * - `audienceLinkFor` (page): a presenter page on localhost gets a link on the server's network
 *   address (its own scheme and port), or, with a loopback-only server, a note saying so in words.
 */
import type { NetworkInterfaceInfo } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../../../server/main.js';
import { roomNetwork } from '../../../server/rooms/network.js';
import { LOOPBACK_NOTE, audienceLinkFor } from '../../../client/state/room-link.js';
import type { RoomOpened } from '../../../shared/protocol.js';
import { call, join, joined, queryOf, type Recorder } from './helpers.js';

const bundled = fileURLToPath(new URL('../../../assets/models/brown-gpt2/', import.meta.url));

const nic = (address: string, family: 'IPv4' | 'IPv6', internal = false): NetworkInterfaceInfo => (family === 'IPv4'
  ? { address, family, internal, netmask: '255.255.255.0', mac: '00:00:00:00:00:00', cidr: null }
  : { address, family, internal, netmask: 'ffff:ffff:ffff:ffff::', mac: '00:00:00:00:00:00', cidr: null, scopeid: 0 });
const table = {
  lo: [nic('127.0.0.1', 'IPv4', true), nic('::1', 'IPv6', true)],
  wlan0: [nic('fe80::1c2:3ff:fe45:6789', 'IPv6'), nic('2001:db8::42', 'IPv6'), nic('192.168.1.23', 'IPv4')],
  eth1: [nic('10.0.0.5', 'IPv4')],
};

describe('roomNetwork', () => {
  it('says loopback only for 127.0.0.1, localhost and ::1', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1', '[::1]']) expect(roomNetwork(host, table)).toEqual({ loopbackOnly: true, addresses: [] });
  });
  it('lists the external IPv4 addresses for 0.0.0.0, and global IPv6 after them for ::', () => {
    expect(roomNetwork('0.0.0.0', table)).toEqual({ loopbackOnly: false, addresses: ['192.168.1.23', '10.0.0.5'] });
    expect(roomNetwork('::', table)).toEqual({ loopbackOnly: false, addresses: ['192.168.1.23', '10.0.0.5', '2001:db8::42'] });
    expect(roomNetwork('0.0.0.0', { lo: table.lo })).toEqual({ loopbackOnly: false, addresses: [] });
  });
  it('names the one address a server is bound to', () => {
    expect(roomNetwork('192.168.1.23', table)).toEqual({ loopbackOnly: false, addresses: ['192.168.1.23'] });
  });
});

describe('audienceLinkFor', () => {
  const q = '?room=abc';
  it('uses the server\'s first network address, with the page\'s scheme and port, when the page is on localhost', () => {
    const network = { loopbackOnly: false, addresses: ['192.168.1.23', '2001:db8::42'] };
    expect(audienceLinkFor('https://localhost:8080', q, network)).toEqual({
      link: 'https://192.168.1.23:8080/?room=abc', others: ['https://[2001:db8::42]:8080/?room=abc'], note: null,
    });
    expect(audienceLinkFor('http://127.0.0.1:5173', q, network).link).toBe('http://192.168.1.23:5173/?room=abc');
    expect(audienceLinkFor('http://[::1]:8080', q, network).link).toBe('http://192.168.1.23:8080/?room=abc');
  });
  it('keeps a page address that is already on the network', () => {
    const network = { loopbackOnly: false, addresses: ['10.0.0.5'] };
    expect(audienceLinkFor('https://192.168.1.23:8080', q, network)).toEqual({ link: 'https://192.168.1.23:8080/?room=abc', others: [], note: null });
  });
  it('says in words that phones cannot reach a loopback-only server, and how to start it', () => {
    const shared = audienceLinkFor('http://localhost:8080', q, { loopbackOnly: true, addresses: [] });
    expect(shared.link).toBe('http://localhost:8080/?room=abc');
    expect(shared.note).toBe(LOOPBACK_NOTE);
    expect(shared.note).toMatch(/cannot open this link/);
    expect(shared.note).toContain('--https --host 0.0.0.0');
    expect(audienceLinkFor('http://localhost:8080', q, { loopbackOnly: false, addresses: [] }).note).toMatch(/no network address/);
  });
});

describe('room:open on real servers', () => {
  const servers: Awaited<ReturnType<typeof startServer>>[] = [];
  const sockets: Recorder[] = [];
  afterAll(async () => {
    for (const s of sockets) s.socket.disconnect();
    for (const s of servers) await s.close();
  });

  async function openOn(host: string) {
    const server = await startServer({ model: bundled, port: 0, host, device: 'cpu', https: false, serveClient: false, index: false, log: () => {}, token: 'network-token' });
    servers.push(server);
    const url = `http://127.0.0.1:${new URL(server.url).port}/`;
    const owner = await join(url, { token: server.token });
    sockets.push(owner);
    const answer = await call<RoomOpened>(owner.socket, 'room:open');
    if (!answer.ok) throw new Error(answer.error.message);
    const me = await joined(owner);
    return { url, opened: answer.value, me };
  }

  it('answers loopback only from a server on 127.0.0.1', async () => {
    const { opened } = await openOn('127.0.0.1');
    expect(opened.network).toEqual({ loopbackOnly: true, addresses: [] });
  });

  it('answers this machine\'s network addresses from a server on 0.0.0.0, to the owner only', async () => {
    const { url, opened, me } = await openOn('0.0.0.0');
    expect(opened.network).toEqual(roomNetwork('0.0.0.0'));
    expect(opened.network!.loopbackOnly).toBe(false);
    expect(opened.network!.addresses.every((a) => !a.startsWith('127.'))).toBe(true);
    expect(me.network).toEqual(opened.network);
    const follower = await join(url, queryOf(opened.audienceQuery));
    sockets.push(follower);
    expect((await joined(follower)).network).toBeUndefined();
  });
});
