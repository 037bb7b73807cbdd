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
/**
 * 2: key strings in one table, keys as ids; 3: full or delta; 4: a layout byte after the
 * window type (1: each key's windows are followed by its pane list, and a window may be
 * pane-backed: window-state.ts). Version 3 is still read: it is layout 0, which a sliding
 * operator restores as windows with their own aggregates (WindowOperator.restore).
 */
const VERSION = 4;
const OLDEST_READ = 3;
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

/** How the keyed state after the header is laid out. */
export interface SnapshotLayout {
  /** Each key's windows are followed by its pane list (a sliding operator with panes). */
  panes: boolean;
}

/** Writes the snapshot header. */
export function writeHeader(w: ByteWriter, kind: SnapshotKind, spec: WindowSpec, wm: number, stats: WindowOperatorStats, layout: SnapshotLayout): void {
  w.u32(MAGIC);
  w.u8(VERSION);
  w.u8(SNAPSHOT_KINDS.indexOf(kind));
  w.u8(KINDS.indexOf(spec.type));
  w.u8(layout.panes ? 1 : 0);
  w.f64(spec.type === 'session' ? 0 : spec.size);
  w.f64(spec.type === 'sliding' ? spec.slide : 0);
  w.f64(spec.type === 'session' ? spec.gap : 0);
  w.f64(wm);
  for (const v of [stats.readings, stats.late, stats.invalid, stats.fired, stats.refired]) w.f64(v);
}

/**
 * Reads the header, checks its kind and its shape against `spec` (StateMismatchError if it
 * differs), fills `stats` and `layout`; returns the watermark.
 */
export function readHeader(r: ByteReader, kind: SnapshotKind, spec: WindowSpec, stats: WindowOperatorStats, layout: SnapshotLayout): number {
  if (r.u32() !== MAGIC) r.fail('not a window operator snapshot');
  const version = r.u8();
  if (version < OLDEST_READ || version > VERSION) r.fail(`version ${version} (this version reads ${OLDEST_READ} to ${VERSION})`);
  const saved = SNAPSHOT_KINDS[r.u8()] ?? r.fail('unknown snapshot kind');
  if (saved !== kind) r.fail(`a ${saved} snapshot where a ${kind} one was expected`);
  const type = KINDS[r.u8()] ?? r.fail('unknown window type');
  const layoutByte = version >= 4 ? r.u8() : 0;
  if (layoutByte > 1 || (layoutByte === 1 && type !== 'sliding')) r.fail(`layout ${layoutByte} for a ${type} window`);
  layout.panes = layoutByte === 1;
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
