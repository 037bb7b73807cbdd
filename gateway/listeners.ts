import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { MqttConfig } from './config.js';
import { guardStream, type GuardViolation } from './packet-guard.js';
import { rememberSourceAddress } from './source-address.js';

/** The bound ports of the MQTT listeners that are on. */
export interface ListenerPorts {
  tcp: number;
  tls?: number;
  ws?: number;
}

export interface Listeners {
  ports: ListenerPorts;
  close(): Promise<void>;
}

function listen(server: Server | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Starts the TCP listener and, when configured, TLS and WebSocket listeners, all feeding aedes. */
export async function startListeners(broker: Aedes, config: MqttConfig, onViolation: (v: GuardViolation) => void): Promise<Listeners> {
  const handle = (stream: Duplex): void => {
    guardStream(stream, config.maxPacketBytes, onViolation);
    broker.handle(stream);
  };
  const servers: (Server | HttpServer)[] = [];
  const tcp = createNetServer(handle);
  servers.push(tcp);
  const ports: ListenerPorts = { tcp: await listen(tcp, config.port, config.host) };

  if (config.tls) {
    const [cert, key] = await Promise.all([readFile(config.tls.cert), readFile(config.tls.key)]);
    const tls = createTlsServer({ cert, key }, handle);
    servers.push(tls);
    ports.tls = await listen(tls, config.tls.port, config.host);
  }
  if (config.wsPort !== undefined) {
    const http = createHttpServer();
    const wss = new WebSocketServer({ server: http, maxPayload: config.maxPacketBytes + 8 });
    wss.on('connection', (ws, request) => {
      const stream = createWebSocketStream(ws);
      // The stream hides the socket; auth backoff needs the peer address.
      rememberSourceAddress(stream, request.socket.remoteAddress);
      handle(stream);
    });
    servers.push(http);
    ports.ws = await listen(http, config.wsPort, config.host);
  }
  return {
    ports,
    close: async () => {
      await Promise.all(servers.map(closeServer));
    },
  };
}
