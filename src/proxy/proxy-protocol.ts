// PROXY protocol v1 (text) and v2 (binary) on the proxy's listeners (--proxy-protocol), as
// HAProxy's specification (doc/proxy-protocol.txt) defines them: a load balancer sends one
// header with the client's address before the first byte of HTTP or TLS. With the flag on,
// every connection must start with one; a missing, malformed or slow header closes the
// connection with a log line. The address in it is believed only when the socket's peer is in
// --trust-forwarded-from; from any other peer the header is read and its address ignored.

import type { Server as NetServer, Socket } from 'node:net';
import { isIPv4, isIPv6 } from 'node:net';
import { inSourceRanges, type SourceRange } from '../routing/source-range.ts';

export type ProxyHeader =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly reason: string }
  /** `source` undefined: UNKNOWN (v1) or LOCAL / UNSPEC (v2): the connection's own address stands */
  | { readonly kind: 'ok'; readonly length: number; readonly source: string | undefined };

const V1_PREFIX = Buffer.from('PROXY ');
const V1_MAX_LENGTH = 107;
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** A v2 header this long (TLVs included) is refused; real ones are a few dozen bytes. */
const V2_MAX_LENGTH = 1024;
const PORT = /^(0|[1-9]\d{0,4})$/;

const PROXIED_SOURCE = Symbol('portico.proxiedSource');

/** Reads a PROXY header at the start of `data`. */
export function parseProxyHeader(data: Buffer): ProxyHeader {
  const probe = Math.min(data.length, V2_SIGNATURE.length);
  if (data.subarray(0, probe).equals(V2_SIGNATURE.subarray(0, probe))) {
    return data.length < 16 ? { kind: 'incomplete' } : parseV2(data);
  }
  const prefix = Math.min(data.length, V1_PREFIX.length);
  if (data.subarray(0, prefix).equals(V1_PREFIX.subarray(0, prefix))) return parseV1(data);
  return { kind: 'invalid', reason: 'the connection does not start with a PROXY protocol header' };
}

function parseV1(data: Buffer): ProxyHeader {
  const end = data.indexOf('\r\n');
  if (end < 0) {
    return data.length >= V1_MAX_LENGTH
      ? { kind: 'invalid', reason: 'PROXY v1 header longer than 107 bytes' }
      : { kind: 'incomplete' };
  }
  if (end + 2 > V1_MAX_LENGTH) return { kind: 'invalid', reason: 'PROXY v1 header longer than 107 bytes' };
  const fields = data.toString('latin1', 0, end).split(' ');
  const length = end + 2;
  if (fields[1] === 'UNKNOWN') return { kind: 'ok', length, source: undefined };
  const [, family, source, destination, sourcePort, destinationPort] = fields;
  const isFamily = family === 'TCP4' ? isIPv4 : family === 'TCP6' ? isIPv6 : undefined;
  if (
    fields.length !== 6 ||
    isFamily === undefined ||
    !isFamily(source ?? '') ||
    !isFamily(destination ?? '') ||
    !validPort(sourcePort) ||
    !validPort(destinationPort)
  ) {
    return { kind: 'invalid', reason: 'malformed PROXY v1 header' };
  }
  return { kind: 'ok', length, source };
}

function validPort(text: string | undefined): boolean {
  return text !== undefined && PORT.test(text) && Number(text) <= 65_535;
}

function parseV2(data: Buffer): ProxyHeader {
  const versionCommand = data[12] as number;
  const family = data[13] as number;
  const addressLength = data.readUInt16BE(14);
  const length = 16 + addressLength;
  if (versionCommand >> 4 !== 2) return { kind: 'invalid', reason: 'PROXY v2 header with an unknown version' };
  const command = versionCommand & 0x0f;
  if (command > 1) return { kind: 'invalid', reason: 'PROXY v2 header with an unknown command' };
  if (length > V2_MAX_LENGTH) return { kind: 'invalid', reason: `PROXY v2 header longer than ${V2_MAX_LENGTH} bytes` };
  if (data.length < length) return { kind: 'incomplete' };
  // LOCAL: the balancer's own connection (health checks); the socket address stands.
  if (command === 0) return { kind: 'ok', length, source: undefined };
  switch (family) {
    case 0x11: // TCP over IPv4
    case 0x12: // UDP over IPv4
      if (addressLength < 12) return { kind: 'invalid', reason: 'PROXY v2 IPv4 addresses cut short' };
      return { kind: 'ok', length, source: [...data.subarray(16, 20)].join('.') };
    case 0x21: // TCP over IPv6
    case 0x22: {
      if (addressLength < 36) return { kind: 'invalid', reason: 'PROXY v2 IPv6 addresses cut short' };
      const groups: string[] = [];
      for (let offset = 16; offset < 32; offset += 2) groups.push(data.readUInt16BE(offset).toString(16));
      return { kind: 'ok', length, source: groups.join(':') };
    }
    default:
      // AF_UNSPEC and unix sockets carry no IP address.
      return { kind: 'ok', length, source: undefined };
  }
}

/** The client address a trusted PROXY header gave this socket (HTTP/1, TLS, or HTTP/2's proxy). */
export function proxiedSourceOf(socket: Socket): string | undefined {
  const own = Reflect.get(socket, PROXIED_SOURCE) as string | undefined;
  if (own !== undefined) return own;
  // A TLS socket wraps the TCP socket the header arrived on (node:tls keeps it as _parent).
  const parent = Reflect.get(socket, '_parent') as Socket | null | undefined;
  return parent ? (Reflect.get(parent, PROXIED_SOURCE) as string | undefined) : undefined;
}

export interface ProxyProtocolOptions {
  readonly trusted: readonly SourceRange[];
  /** a connection that has not sent a whole header by then is closed */
  readonly timeoutMs: number;
  readonly onRefused: (peer: string, reason: string) => void;
}

/**
 * Puts a PROXY header reader in front of a server's own connection handling (HTTP's parser, or
 * the TLS handshake): the server sees the connection only once the header is read and cut off.
 * Bytes after the header go back into the socket, which node:http and node:tls both read before
 * reading from it again.
 */
export interface ProxyProtocolReader {
  /** Closes connections still waiting for their header (shutdown: the server cannot see them). */
  closeWaiting(): void;
}

export function acceptProxyProtocol(server: NetServer, options: ProxyProtocolOptions): ProxyProtocolReader {
  const handlers = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  const waiting = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    waiting.add(socket);
    let received: Buffer = Buffer.alloc(0);
    const peer = socket.remoteAddress ?? '';
    const stop = (): void => {
      clearTimeout(timer);
      waiting.delete(socket);
      socket.off('data', onData);
      socket.off('close', stop);
      socket.off('error', onError);
    };
    const refuse = (reason: string): void => {
      stop();
      options.onRefused(peer, reason);
      socket.destroy();
    };
    const onError = (): void => {
      stop();
      socket.destroy();
    };
    const onData = (chunk: Buffer): void => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const header = parseProxyHeader(received);
      if (header.kind === 'incomplete') return;
      if (header.kind === 'invalid') {
        refuse(header.reason);
        return;
      }
      stop();
      socket.pause();
      if (header.source !== undefined && inSourceRanges(peer, options.trusted)) {
        Reflect.set(socket, PROXIED_SOURCE, header.source);
      }
      const rest = received.subarray(header.length);
      if (rest.length > 0) socket.unshift(rest);
      for (const handler of handlers) handler.call(server, socket);
      // node:http reads through 'data' (a listener added to a paused socket does not resume
      // it); node:tls reads the buffered bytes itself and must find the socket still paused.
      if (socket.listenerCount('data') > 0) socket.resume();
    };
    const timer = setTimeout(() => refuse('no PROXY protocol header in time'), options.timeoutMs);
    socket.on('data', onData);
    socket.on('close', stop);
    socket.on('error', onError);
  });
  return {
    closeWaiting(): void {
      for (const socket of waiting) socket.destroy();
      waiting.clear();
    },
  };
}
