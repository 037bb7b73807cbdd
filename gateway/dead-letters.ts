import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Backoff, StorageHealth, makeDirectory } from '../core/index.js';
import type { DeadLettersConfig } from './config.js';

/** One rejected payload as an operator reads it back. */
export interface DeadLetter {
  time: string;
  device: string;
  reason: string;
  detail?: string;
  /** The ingest.mappings entry whose topic the payload came on; absent for the native topics. */
  mapping?: string;
  size: number;
  /** The payload's first 64 bytes, hex. */
  head: string;
}

const FILE = 'deadletters.jsonl';
/** Letters wait at most this long to be written ... */
const FLUSH_INTERVAL_MS = 100;
/** ... or until this many characters wait. */
const FLUSH_BYTES = 64 * 1024;

/**
 * Appends dead letters as JSON lines to dataDir/deadletters/deadletters.jsonl, rotating
 * to .1, .2, … at `maxFileBytes` and keeping `maxFiles` rotated files, so the record
 * stays bounded however many bad payloads arrive.
 */
export class DeadLetterRecorder {
  private stream: WriteStream | undefined;
  private bytes = 0;
  private rotating: Promise<void> | undefined;
  private pending: string[] = [];
  /** Letters not yet written, written together by `flush`. */
  private batch: string[] = [];
  private batchBytes = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  /** After a failed write (full or read-only disk) no file is open until this time; letters meanwhile are dropped. */
  private reopenAt = 0;
  private lastError: unknown;
  private readonly backoff = new Backoff(1000, 30_000);

  private constructor(
    private readonly dir: string,
    private readonly config: DeadLettersConfig,
    private readonly health: StorageHealth,
  ) {}

  /**
   * Opens (creating) the dead-letter directory under `dataDir`. Dead letters are a
   * best-effort record: on a full or read-only disk they are dropped and counted
   * (`health`, component `dead-letters`), never a reason to stop or to refuse data.
   */
  static async open(dataDir: string, config: DeadLettersConfig, health = new StorageHealth()): Promise<DeadLetterRecorder> {
    const dir = join(dataDir, 'deadletters');
    await makeDirectory(dir).catch((err: unknown) => health.failed('dead-letters', err, false));
    const recorder = new DeadLetterRecorder(dir, config, health);
    recorder.bytes = await stat(join(dir, FILE)).then((s) => s.size, () => 0);
    recorder.openStream();
    return recorder;
  }

  private openStream(): void {
    const stream = createWriteStream(join(this.dir, FILE), { flags: 'a' });
    // Without a listener a failed write would be an uncaught exception: the process would die of a full disk.
    stream.on('error', (err) => {
      this.lastError = err;
      this.health.failed('dead-letters', err, false);
      if (this.stream === stream) this.stream = undefined;
      this.reopenAt = Date.now() + this.backoff.next();
      stream.destroy();
    });
    this.stream = stream;
  }

  /** Records one rejected payload (buffered; written in the background). */
  record(device: string, reason: string, payload: Uint8Array, detail?: string, mapping?: string): void {
    const letter: DeadLetter = {
      time: new Date().toISOString(),
      device,
      reason,
      ...(detail ? { detail } : {}),
      ...(mapping === undefined ? {} : { mapping }),
      size: payload.byteLength,
      head: Buffer.from(payload.buffer, payload.byteOffset, Math.min(64, payload.byteLength)).toString('hex'),
    };
    this.enqueue(JSON.stringify(letter) + '\n');
  }

  /** Writes now, or after the rotation in progress. */
  private enqueue(line: string): void {
    if (this.rotating) this.pending.push(line);
    else this.write(line);
  }

  private write(line: string): void {
    this.batch.push(line);
    this.bytes += Buffer.byteLength(line);
    this.batchBytes += line.length;
    if (this.bytes >= this.config.maxFileBytes) {
      this.flush();
      this.rotating = this.rotate();
    } else if (this.batchBytes >= FLUSH_BYTES) this.flush();
    else if (this.flushTimer === undefined) this.flushTimer = setTimeout(this.flush, FLUSH_INTERVAL_MS);
  }

  /**
   * One write call for the letters of up to FLUSH_INTERVAL_MS: a device sending refused
   * payloads as fast as its rate limit lets it (one an event-loop turn) made a write call
   * per letter, ~4 % of the main thread (hostile soak, profiled) that every other
   * device's PUBACKs waited behind. The refusal counters are exact either way; a crash
   * loses at most that interval's letters, as it lost the writes in flight before.
   */
  private readonly flush = (): void => {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.batch.length === 0) return;
    const text = this.batch.join('');
    this.batch = [];
    this.batchBytes = 0;
    if (!this.stream) {
      // Dropped, and counted as one more failure of the episode that closed the file.
      if (Date.now() < this.reopenAt) return this.health.failed('dead-letters', this.lastError, false);
      this.openStream();
    }
    this.stream!.write(text, (err) => {
      if (err) return;
      this.backoff.reset();
      this.health.recovered('dead-letters');
    });
  };

  private async rotate(): Promise<void> {
    await this.endStream();
    for (let i = this.config.maxFiles; i >= 1; i--) {
      const from = i === 1 ? join(this.dir, FILE) : join(this.dir, `${FILE}.${i - 1}`);
      if (i === this.config.maxFiles) await rm(join(this.dir, `${FILE}.${i}`), { force: true });
      await rename(from, join(this.dir, `${FILE}.${i}`)).catch(() => undefined);
    }
    this.openStream();
    this.bytes = 0;
    this.rotating = undefined;
    const pending = this.pending;
    this.pending = [];
    for (const line of pending) this.enqueue(line);
  }

  /** Flushes and closes the current file. */
  async close(): Promise<void> {
    while (this.rotating) await this.rotating;
    this.flush();
    await this.endStream();
  }

  private async endStream(): Promise<void> {
    const stream = this.stream;
    if (!stream || stream.destroyed) return;
    await new Promise<void>((resolve) => {
      stream.once('error', () => resolve()); // counted by the listener openStream added
      stream.end(resolve);
    });
  }
}

/** The newest `tail` dead letters under `dataDir`, oldest first. */
export async function readDeadLetters(dataDir: string, tail = 50, maxFiles = 10): Promise<DeadLetter[]> {
  const dir = join(dataDir, 'deadletters');
  const letters: DeadLetter[] = [];
  for (let i = 0; i <= maxFiles && letters.length < tail; i++) {
    const text = await readFile(join(dir, i === 0 ? FILE : `${FILE}.${i}`), 'utf8').catch(() => '');
    const lines = text.split('\n').filter((l) => l.length > 0);
    letters.unshift(...lines.map((l) => JSON.parse(l) as DeadLetter));
  }
  return letters.slice(-tail);
}
