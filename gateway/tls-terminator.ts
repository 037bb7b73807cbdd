import type { Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { MqttConfig } from './config.js';
import { readConfiguredFile } from './listen.js';

/** TLS for sockets that already passed the connection gate. */
export interface TlsTerminator {
  /** Starts the handshake on an admitted raw socket; `onSecure` gets it once verified. */
  accept(socket: Socket): void;
}

/**
 * Terminates TLS on admitted sockets through a `tls.Server` that never listens: raw sockets
 * are handed to it as 'connection's. Constructing a TLSSocket directly would skip the
 * server's check of the client certificate (Node verifies it, and refuses an unverified one
 * under `rejectUnauthorized`, only for sockets a tls.Server made), so a self-signed client
 * certificate would pass. The handshake must end within `mqtt.connectTimeout`, as a CONNECT
 * must. `onSecure` gets the TLS socket and the raw socket it runs on (where the gate's
 * admission is kept); `onRefused` is told of handshakes that fail (no or a bad client
 * certificate when one is required, not TLS at all).
 */
export async function createTlsTerminator(
  config: MqttConfig,
  onSecure: (tls: TLSSocket, raw: Socket) => void,
  onRefused: () => void,
): Promise<TlsTerminator> {
  const tls = config.tls!;
  // One after the other, so the error names the same file whatever the disk does.
  const cert = await readConfiguredFile('mqtt.tls.cert', tls.cert);
  const key = await readConfiguredFile('mqtt.tls.key', tls.key);
  const ca = tls.ca === undefined ? undefined : await readConfiguredFile('mqtt.tls.ca', tls.ca);
  const server = createTlsServer({
    cert,
    key,
    ...(ca === undefined ? {} : { ca, requestCert: true, rejectUnauthorized: tls.requireClientCert }),
    handshakeTimeout: config.connectTimeout,
  });
  // The TLS socket does not expose the raw one: paired by the peer's address and port,
  // which are unique among the open connections to this process.
  const raws = new Map<string, Socket>();
  const peer = (s: { remoteAddress?: string; remotePort?: number }): string => `${s.remoteAddress}|${s.remotePort}`;
  server.on('secureConnection', (socket: TLSSocket) => {
    const raw = raws.get(peer(socket));
    if (raw === undefined) socket.destroy();
    else onSecure(socket, raw);
  });
  server.on('tlsClientError', (_err, socket: TLSSocket) => {
    onRefused();
    socket.destroy();
  });
  return {
    accept(socket) {
      const key = peer(socket);
      raws.set(key, socket);
      socket.once('close', () => raws.get(key) === socket && raws.delete(key));
      server.emit('connection', socket);
    },
  };
}
