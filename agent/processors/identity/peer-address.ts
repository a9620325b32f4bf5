import { isIP } from "node:net";

const IPV4_MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * The IP address of an OTLP connection's peer, from `address:port` as grpc-js `getPeer()` writes
 * it (`10.1.2.3:41234`, `::ffff:10.1.2.3:41234`, `fd00::5:41234`, or `[fd00::5]:41234`), and as the
 * HTTP receiver passes its socket's `remoteAddress:remotePort`. The port is always the last
 * `:`-separated part, so an unbracketed IPv6 address is not ambiguous. IPv4-mapped IPv6 addresses
 * (a dual-stack listener) come back as plain IPv4, the form pod IPs have. Undefined for anything
 * else (grpc-js says `unknown` when the socket is gone).
 */
export function peerIp(peer: string | undefined): string | undefined {
  if (peer === undefined) return undefined;
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(peer);
  const colon = peer.lastIndexOf(":");
  const host = bracketed?.[1] ?? (colon > 0 && /^\d+$/.test(peer.slice(colon + 1)) ? peer.slice(0, colon) : undefined);
  if (host === undefined || isIP(host) === 0) return undefined;
  return IPV4_MAPPED.exec(host)?.[1] ?? host.toLowerCase();
}
