import type { Duplex } from 'node:stream';

/** Addresses of streams that do not carry one themselves (a WebSocket stream wraps its socket). */
const addresses = new WeakMap<Duplex, string>();

/** Records where a connection's stream comes from, for transports whose stream does not say. */
export function rememberSourceAddress(stream: Duplex, address: string | undefined): void {
  if (address !== undefined) addresses.set(stream, address);
}

/**
 * The peer address of an MQTT connection: the socket's own for TCP and TLS, the one
 * recorded at upgrade for WebSocket; undefined when neither is known. Proxy headers are
 * not trusted: the address is the one that can be rate-limited.
 */
export function sourceAddressOf(stream: Duplex): string | undefined {
  return addresses.get(stream) ?? (stream as Duplex & { remoteAddress?: string }).remoteAddress;
}
