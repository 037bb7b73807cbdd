import type { Duplex } from 'node:stream';

/** Where the gate reports how many connections wait (a Gauge). */
export interface PausedConnections {
  set(n: number): void;
}

/**
 * Stops reading MQTT connections while the ingest pipeline is past
 * `ingest.maxInflightBytes`, so a backlog waits in the kernel's socket buffers, where TCP
 * pushes back on the devices, not in the heap as parsed publishes. aedes parses all of a
 * read at once and reads a connection again as soon as every packet of the last read is
 * done; holding publishes alone let each connection's next read in: under the fleet load
 * (10 000 devices × 16 in flight) ~97 000 held publishes, ~1.3 GB RSS, and the garbage
 * collector's largest share of the gateway thread.
 *
 * A refused read returns null, as a socket with nothing to read does; the connection
 * waits, in arrival order, and `open()` resumes them one at a time (a 'readable' event,
 * on which aedes reads) for as long as the pipeline has room.
 */
export class SocketReadGate {
  private isShut = false;
  /** Connections whose read was refused, oldest first (a Set keeps insertion order). */
  private readonly waiting = new Set<Duplex>();

  constructor(private readonly paused?: PausedConnections) {}

  /** Whether reads are refused now. */
  get shut(): boolean {
    return this.isShut;
  }

  /** Connections waiting for the gate to open. */
  get waitingCount(): number {
    return this.waiting.size;
  }

  /** Puts the reads of `stream` behind the gate: aedes reads each batch with stream.read(). */
  watch(stream: Duplex): void {
    const read = stream.read.bind(stream);
    stream.read = (size?: number) => {
      // read(0) only refills the stream's buffer from the socket (Node calls it itself): it returns no data.
      if (!this.isShut || size === 0) return read(size);
      this.waiting.add(stream);
      this.paused?.set(this.waiting.size);
      return null;
    };
    stream.once('close', () => {
      if (this.waiting.delete(stream)) this.paused?.set(this.waiting.size);
    });
  }

  /** Refuses reads until open(). */
  close(): void {
    this.isShut = true;
  }

  /** Lets reads through again and resumes the waiting connections, oldest first, until close() is called again. */
  open(): void {
    this.isShut = false;
    for (const stream of this.waiting) {
      if (this.isShut) break;
      this.waiting.delete(stream);
      stream.emit('readable');
    }
    this.paused?.set(this.waiting.size);
  }
}
