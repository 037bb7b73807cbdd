import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeadLettersConfig } from './config.js';

/** One rejected payload as an operator reads it back. */
export interface DeadLetter {
  time: string;
  device: string;
  reason: string;
  detail?: string;
  size: number;
  /** The payload's first 64 bytes, hex. */
  head: string;
}

const FILE = 'deadletters.jsonl';

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

  private constructor(
    private readonly dir: string,
    private readonly config: DeadLettersConfig,
  ) {}

  /** Opens (creating) the dead-letter directory under `dataDir`. */
  static async open(dataDir: string, config: DeadLettersConfig): Promise<DeadLetterRecorder> {
    const dir = join(dataDir, 'deadletters');
    await mkdir(dir, { recursive: true });
    const recorder = new DeadLetterRecorder(dir, config);
    recorder.bytes = await stat(join(dir, FILE)).then((s) => s.size, () => 0);
    recorder.stream = createWriteStream(join(dir, FILE), { flags: 'a' });
    return recorder;
  }

  /** Records one rejected payload (buffered; written in the background). */
  record(device: string, reason: string, payload: Uint8Array, detail?: string): void {
    const letter: DeadLetter = {
      time: new Date().toISOString(),
      device,
      reason,
      ...(detail ? { detail } : {}),
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
    this.stream!.write(line);
    this.bytes += Buffer.byteLength(line);
    if (this.bytes >= this.config.maxFileBytes) this.rotating = this.rotate();
  }

  private async rotate(): Promise<void> {
    await new Promise<void>((resolve) => this.stream!.end(resolve));
    for (let i = this.config.maxFiles; i >= 1; i--) {
      const from = i === 1 ? join(this.dir, FILE) : join(this.dir, `${FILE}.${i - 1}`);
      if (i === this.config.maxFiles) await rm(join(this.dir, `${FILE}.${i}`), { force: true });
      await rename(from, join(this.dir, `${FILE}.${i}`)).catch(() => undefined);
    }
    this.stream = createWriteStream(join(this.dir, FILE), { flags: 'a' });
    this.bytes = 0;
    this.rotating = undefined;
    const pending = this.pending;
    this.pending = [];
    for (const line of pending) this.enqueue(line);
  }

  /** Flushes and closes the current file. */
  async close(): Promise<void> {
    while (this.rotating) await this.rotating;
    await new Promise<void>((resolve) => this.stream!.end(resolve));
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
