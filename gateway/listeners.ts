import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { MqttConfig } from './config.js';
import { REFUSAL_GRACE_MS, REFUSING_AT_ONCE, type Admission, type AdmissionRefusal, type ConnectionGate } from './connection-gate.js';
import { rememberTlsSocket } from './client-certificate.js';
import { listenOn } from './listen.js';
import type { SocketReadGate } from './ingest/socket-read-gate.js';
import { guardStream, type GuardViolation } from './packet-guard.js';
import { rememberSourceAddress } from './source-address.js';
import { createTlsTerminator } from './tls-terminator.js';

/** The bound ports of the MQTT listeners that are on. */
export interface ListenerPorts {
  /** Undefined when `mqtt.tcp` is false. */
  tcp?: number;
  tls?: number;
  ws?: number;
  wss?: number;
}

export interface Listeners {
  ports: ListenerPorts;
  close(): Promise<void>;
}

export interface ListenerEvents {
  /** A connection was closed by the packet guard. */
  violation(v: GuardViolation): void;
  /** A socket was closed as soon as it was accepted, or its TLS handshake failed. */
  refused(reason: AdmissionRefusal | 'tls_handshake'): void;
}

/** CONNACK, return code 3: server unavailable (the same bytes in MQTT 3.1 and 3.1.1). */
const CONNACK_SERVER_UNAVAILABLE = Buffer.from([0x20, 0x02, 0x00, 0x03]);

function closeServer(server: Server | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Starts the TCP listener and, when configured, TLS and WebSocket listeners, all feeding
 * aedes. Every accepted socket passes the `ConnectionGate` first, at the TCP level (before
 * a TLS handshake or a WebSocket upgrade, which cost a descriptor too). After its first
 * packet (the CONNECT, so a device can still connect while the pipeline is full) a
 * connection's reads go through `readGate`.
 */
export async function startListeners(broker: Aedes, config: MqttConfig, gate: ConnectionGate, readGate: SocketReadGate, events: ListenerEvents): Promise<Listeners> {
  const admissions = new WeakMap<Socket, Admission>();
  let refusing = 0;
  /**
   * Closes a socket the gate refused. On plain TCP it first gets CONNACK 3 (server
   * unavailable) without waiting for its CONNECT: the first packet the server sends is
   * still a CONNACK [MQTT-3.2.0-1], and a client library told nothing waits for a CONNACK
   * that never comes (mqtt.js without reconnect hangs). Unread input is discarded so the
   * close is a FIN, not a reset that could lose the CONNACK. Only REFUSING_AT_ONCE sockets
   * get this courtesy at a time (each holds its descriptor until the client closes or
   * REFUSAL_GRACE_MS pass); past that, a flood is cut with no answer.
   */
  const refuse = (socket: Socket, connack: boolean): void => {
    if (!connack || refusing >= REFUSING_AT_ONCE) {
      socket.destroy();
      return;
    }
    refusing++;
    const timer = setTimeout(() => socket.destroy(), REFUSAL_GRACE_MS).unref();
    socket.once('close', () => {
      refusing--;
      clearTimeout(timer);
    });
    socket.on('error', () => {}); // a reset from the client is fine here
    socket.resume();
    socket.end(CONNACK_SERVER_UNAVAILABLE);
  };
  const admit = (socket: Socket, connack: boolean): Admission | undefined => {
    const admission = gate.admit(socket.remoteAddress);
    if (typeof admission === 'string') {
      events.refused(admission);
      refuse(socket, connack);
      return undefined;
    }
    admissions.set(socket, admission);
    socket.once('close', admission.release);
    return admission;
  };
  const handle = (stream: Duplex, admission: Admission): void => {
    guardStream(
      stream,
      { maxPacketBytes: config.maxPacketBytes, packetTimeoutMs: config.packetTimeout },
      {
        violation: events.violation,
        firstPacket: () => {
          admission.spoke();
          readGate.watch(stream);
        },
      },
    );
    broker.handle(stream);
  };
  const servers: (Server | HttpServer)[] = [];
  const ports: ListenerPorts = {};
  if (config.tcp) {
    const tcp = createNetServer((socket) => {
      const admission = admit(socket, true);
      if (admission) handle(socket, admission);
    });
    servers.push(tcp);
    ports.tcp = await listenOn(tcp, { port: config.port, host: config.host, key: 'mqtt.port' });
  }

  /** MQTT over WebSocket on an HTTP server that gets its sockets from `server` (ws) or from TLS (wss). */
  const webSocketServer = (http: HttpServer): void => {
    const wss = new WebSocketServer({ server: http, maxPayload: config.maxPacketBytes + 8 });
    // ws re-emits every error of the HTTP server as its own, and an 'error' nobody listens to
    // kills the process with a stack: a taken mqtt.wsPort is reported by listenOn instead.
    wss.on('error', () => {});
    wss.on('connection', (ws, req) => {
      const admission = admissions.get(req.socket);
      if (!admission) {
        ws.terminate();
        return;
      }
      const stream = createWebSocketStream(ws);
      // The stream hides the socket; auth backoff needs the peer address, mTLS the certificate.
      rememberSourceAddress(stream, req.socket.remoteAddress);
      if (req.socket instanceof TLSSocket) rememberTlsSocket(stream, req.socket);
      handle(stream, admission);
    });
  };

  if (config.tls) {
    // Plain servers gate each raw socket, then TLS is terminated on the admitted ones, so
    // the gate sees the raw socket and the guard the decrypted stream of one connection.
    const https = config.wssPort === undefined ? undefined : createHttpServer();
    const wssListener = new WeakSet<Socket>();
    const terminator = await createTlsTerminator(
      config,
      (tls, raw) => {
        const admission = admissions.get(raw);
        if (!admission) return tls.destroy();
        if (!wssListener.has(raw)) return handle(tls, admission);
        admissions.set(tls, admission);
        https!.emit('connection', tls);
      },
      () => events.refused('tls_handshake'),
    );
    const tls = createNetServer((socket) => {
      if (admit(socket, false)) terminator.accept(socket);
    });
    servers.push(tls);
    ports.tls = await listenOn(tls, { port: config.tls.port, host: config.host, key: 'mqtt.tls.port' });
    if (https) {
      webSocketServer(https);
      const wssRaw = createNetServer((socket) => {
        if (!admit(socket, false)) return;
        wssListener.add(socket);
        terminator.accept(socket);
      });
      servers.push(wssRaw);
      ports.wss = await listenOn(wssRaw, { port: config.wssPort!, host: config.host, key: 'mqtt.wssPort' });
    }
  }
  if (config.wsPort !== undefined) {
    const http = createHttpServer();
    http.on('connection', (socket: Socket) => void admit(socket, false));
    webSocketServer(http);
    servers.push(http);
    ports.ws = await listenOn(http, { port: config.wsPort, host: config.host, key: 'mqtt.wsPort' });
  }
  return {
    ports,
    close: async () => {
      await Promise.all(servers.map(closeServer));
    },
  };
}
