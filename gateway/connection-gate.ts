import { readFile, readdir } from 'node:fs/promises';

/** Why a socket was closed as soon as it was accepted (also its metric label). */
export type AdmissionRefusal = 'max_connections' | 'pending_per_address';

/** A socket the gate let in: say when its first MQTT packet has arrived, and when it closes. */
export interface Admission {
  /** The socket sent a complete packet (its CONNECT): it no longer counts as pending for its address. */
  spoke(): void;
  /** The socket closed; safe to call more than once. */
  release(): void;
}

/**
 * Counts every MQTT socket from the moment it is accepted, not from CONNECT: a socket
 * that never speaks holds a file descriptor and ~56 kB like any other, so it counts
 * against `mqtt.maxConnections`. Until its first packet arrives a socket is *pending*,
 * and pending sockets are capped per source address, so one host cannot fill the
 * gateway with silent sockets while aedes' connect timeout runs.
 */
export class ConnectionGate {
  private sockets = 0;
  private readonly pending = new Map<string, number>();

  constructor(
    /** Sockets open at once, pending or connected, over all MQTT listeners. */
    readonly maxSockets: number,
    readonly maxPendingPerAddress: number,
  ) {}

  /** Sockets open now. */
  get open(): number {
    return this.sockets;
  }

  /** Sockets from `address` that have not sent a packet yet. */
  pendingFrom(address: string): number {
    return this.pending.get(address) ?? 0;
  }

  /** Admits a freshly accepted socket, or says why it must be closed at once. */
  admit(remoteAddress: string | undefined): Admission | AdmissionRefusal {
    if (this.sockets >= this.maxSockets) return 'max_connections';
    const address = normaliseAddress(remoteAddress);
    const pendingHere = this.pending.get(address) ?? 0;
    if (pendingHere >= this.maxPendingPerAddress) return 'pending_per_address';
    this.sockets++;
    this.pending.set(address, pendingHere + 1);
    let pending = true;
    let open = true;
    const unpend = (): void => {
      if (!pending) return;
      pending = false;
      const left = (this.pending.get(address) ?? 1) - 1;
      if (left > 0) this.pending.set(address, left);
      else this.pending.delete(address);
    };
    return {
      spoke: unpend,
      release: () => {
        if (!open) return;
        open = false;
        unpend();
        this.sockets--;
      },
    };
  }
}

/** An IPv4 peer seen on a dual-stack socket is the same host as on an IPv4 one. */
function normaliseAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * Refused sockets answered with CONNACK 3 at once (listeners.ts); each holds its
 * descriptor for up to REFUSAL_GRACE_MS, so they come out of the socket budget too.
 */
export const REFUSING_AT_ONCE = 64;
export const REFUSAL_GRACE_MS = 2000;

/**
 * How many MQTT sockets the process can hold and still keep `reserved` descriptors free
 * for everything else (the HTTP endpoints, log segments, checkpoints, sink connections):
 * the soft RLIMIT_NOFILE minus the descriptors open now minus `reserved` minus the
 * sockets being refused with a CONNACK (REFUSING_AT_ONCE). Without this
 * bound, `mqtt.maxConnections` above the descriptor limit lets MQTT sockets take the
 * last descriptor and /healthz stops accepting (EMFILE). Infinity where /proc is absent.
 */
export async function socketBudget(reserved: number): Promise<{ budget: number; fdLimit: number; fdsOpen: number }> {
  try {
    const limits = await readFile('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    if (!match || match[1] === 'unlimited') return { budget: Infinity, fdLimit: Infinity, fdsOpen: 0 };
    const fdLimit = Number(match[1]);
    const fdsOpen = (await readdir('/proc/self/fd')).length;
    return { budget: Math.max(0, fdLimit - fdsOpen - reserved - REFUSING_AT_ONCE), fdLimit, fdsOpen };
  } catch {
    return { budget: Infinity, fdLimit: Infinity, fdsOpen: 0 };
  }
}
