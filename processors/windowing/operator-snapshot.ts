import { StateMismatchError } from '../errors.js';
import type { ByteReader, ByteWriter } from '../state/bytes.js';
import type { WindowOperatorStats } from './fired-window.js';
import type { WindowSpec } from './window-spec.js';

/**
 * Header of a WindowOperator snapshot: magic, version, full or delta, the window's
 * shape, watermark and counters. The keyed state follows (window-operator.ts,
 * window-state.ts). Checksums and compression are the checkpoint store's job.
 */
const MAGIC = 0x504f5753; // "SWOP"
const VERSION = 3; // 2: key strings in one table, keys as ids; 3: full or delta
const KINDS = ['tumbling', 'sliding', 'session'] as const;

/** A full snapshot holds every key; a delta what changed since the snapshot before it. */
export type SnapshotKind = 'full' | 'delta';
const SNAPSHOT_KINDS: readonly SnapshotKind[] = ['full', 'delta'];

/** The window's shape as text: what must match for a snapshot to be reused (the name may change). */
function specShape(spec: WindowSpec): string {
  if (spec.type === 'tumbling') return `tumbling size=${spec.size}`;
  if (spec.type === 'sliding') return `sliding size=${spec.size} slide=${spec.slide}`;
  return `session gap=${spec.gap}`;
}

/** Writes the snapshot header. */
export function writeHeader(w: ByteWriter, kind: SnapshotKind, spec: WindowSpec, wm: number, stats: WindowOperatorStats): void {
  w.u32(MAGIC);
  w.u8(VERSION);
  w.u8(SNAPSHOT_KINDS.indexOf(kind));
  w.u8(KINDS.indexOf(spec.type));
  w.f64(spec.type === 'session' ? 0 : spec.size);
  w.f64(spec.type === 'sliding' ? spec.slide : 0);
  w.f64(spec.type === 'session' ? spec.gap : 0);
  w.f64(wm);
  for (const v of [stats.readings, stats.late, stats.invalid, stats.fired, stats.refired]) w.f64(v);
}

/** Reads the header, checks its kind and its shape against `spec` (StateMismatchError if it differs), fills `stats`; returns the watermark. */
export function readHeader(r: ByteReader, kind: SnapshotKind, spec: WindowSpec, stats: WindowOperatorStats): number {
  if (r.u32() !== MAGIC) r.fail('not a window operator snapshot');
  const version = r.u8();
  if (version !== VERSION) r.fail(`version ${version} (expected ${VERSION})`);
  const saved = SNAPSHOT_KINDS[r.u8()] ?? r.fail('unknown snapshot kind');
  if (saved !== kind) r.fail(`a ${saved} snapshot where a ${kind} one was expected`);
  const type = KINDS[r.u8()] ?? r.fail('unknown window type');
  const size = r.f64();
  const slide = r.f64();
  const gap = r.f64();
  const shape = specShape(type === 'tumbling' ? { name: '', type, size } : type === 'sliding' ? { name: '', type, size, slide } : { name: '', type, gap });
  const now = specShape(spec);
  if (shape !== now) throw new StateMismatchError(`the snapshot of window "${spec.name}" was taken for ${shape}, not ${now}: its state cannot be reused`);
  const wm = r.f64();
  [stats.readings, stats.late, stats.invalid, stats.fired, stats.refired] = [r.f64(), r.f64(), r.f64(), r.f64(), r.f64()];
  return wm;
}
