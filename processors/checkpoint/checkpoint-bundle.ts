/**
 * A checkpoint bundle: one file holding one checkpoint id of several partitions (one
 * processor thread's), as Flink keeps a task's key groups in one state file with their
 * offsets. One file and one fsync per thread and checkpoint, not two fsyncs and ~10 file
 * operations per partition: with 64 partitions those took 40–250 ms a checkpoint, and the
 * gateway's log writes waited behind them (issue 15).
 *
 * Layout: the partitions' sections, each exactly a checkpoint file of format 2
 * (checkpoint-file.ts, its own CRC), then the index, then a 32-byte trailer. The index is
 * written last because a section's length is known only once it is encoded, and the
 * sections are streamed to the file one at a time.
 *   index entry (40 bytes, little-endian): [partition u32][kind u8: 0 full, 1 delta][3 reserved]
 *     [base f64][offset f64][position f64][length f64]
 *   trailer (32 bytes): [id f64][index position f64][count u32][crc32c u32][format u16]
 *     [reserved u16][magic u32]
 * The CRC covers the index and the trailer's bytes before it.
 */
import { crc32c } from '@node-rs/crc32';
import { CheckpointCorruptError, CheckpointVersionError, type PartitionCheckpoint } from './checkpoint-file.js';

const MAGIC = 0x424b4c53; // "SLKB"
export const BUNDLE_FORMAT = 1;
const ENTRY_BYTES = 40;
export const BUNDLE_TRAILER_BYTES = 32;
const KINDS = ['full', 'delta'] as const;

/** Where one partition's checkpoint lies in a bundle, and what the restore and retention rules need of it. */
export interface BundleSection {
  partition: number;
  id: number;
  kind: 'full' | 'delta';
  base: number;
  offset: number;
  /** Byte position and length of the section (a format 2 checkpoint) in the file. */
  position: number;
  length: number;
}

/** The index and trailer that end a bundle of checkpoint `id` whose sections are `sections`, in file order. */
export function encodeBundleIndex(id: number, sections: readonly Omit<BundleSection, 'id'>[]): Buffer {
  const indexBytes = sections.length * ENTRY_BYTES;
  const out = Buffer.alloc(indexBytes + BUNDLE_TRAILER_BYTES);
  sections.forEach((s, i) => {
    const at = i * ENTRY_BYTES;
    out.writeUInt32LE(s.partition, at);
    out.writeUInt8(KINDS.indexOf(s.kind), at + 4);
    out.writeDoubleLE(s.base, at + 8);
    out.writeDoubleLE(s.offset, at + 16);
    out.writeDoubleLE(s.position, at + 24);
    out.writeDoubleLE(s.length, at + 32);
  });
  const indexPosition = sections.reduce((end, s) => Math.max(end, s.position + s.length), 0);
  const t = indexBytes;
  out.writeDoubleLE(id, t);
  out.writeDoubleLE(indexPosition, t + 8);
  out.writeUInt32LE(sections.length, t + 16);
  out.writeUInt16LE(BUNDLE_FORMAT, t + 24);
  out.writeUInt32LE(MAGIC, t + 28);
  out.writeUInt32LE(crc32c(out.subarray(t + 24), crc32c(out.subarray(0, t + 20))), t + 20);
  return out;
}

/** What a reader must fetch from the end of a bundle of `fileBytes` bytes: the trailer, whose index position says where the index starts. */
export function decodeBundleTrailer(trailer: Buffer, fileBytes: number, source: string): { id: number; indexPosition: number; count: number } {
  if (trailer.length < BUNDLE_TRAILER_BYTES) throw new CheckpointCorruptError(`${source}: truncated (${fileBytes} bytes, a bundle ends in ${BUNDLE_TRAILER_BYTES})`);
  const t = trailer.length - BUNDLE_TRAILER_BYTES;
  if (trailer.readUInt32LE(t + 28) !== MAGIC) throw new CheckpointCorruptError(`${source}: not a checkpoint bundle (bad magic; truncated or damaged)`);
  const format = trailer.readUInt16LE(t + 24);
  if (format !== BUNDLE_FORMAT) {
    throw new CheckpointVersionError(
      `${source}: checkpoint bundle format ${format}, but this version reads only format ${BUNDLE_FORMAT}. ` +
        'Delete the checkpoints directory to start the processors from the log (or run the version that wrote it).',
    );
  }
  const id = trailer.readDoubleLE(t);
  const indexPosition = trailer.readDoubleLE(t + 8);
  const count = trailer.readUInt32LE(t + 16);
  if (!Number.isSafeInteger(indexPosition) || indexPosition + count * ENTRY_BYTES + BUNDLE_TRAILER_BYTES !== fileBytes) {
    throw new CheckpointCorruptError(`${source}: its index (${count} entries at ${indexPosition}) does not end where the file does (${fileBytes} bytes)`);
  }
  return { id, indexPosition, count };
}

/** Checks and parses a bundle's index and trailer (`tail`: the file's last count × 40 + 32 bytes). */
export function decodeBundleIndex(tail: Buffer, fileBytes: number, source: string): BundleSection[] {
  const { id, indexPosition, count } = decodeBundleTrailer(tail, fileBytes, source);
  if (tail.length !== count * ENTRY_BYTES + BUNDLE_TRAILER_BYTES) throw new RangeError(`${source}: ${tail.length} bytes of index and trailer given, ${count} entries need ${count * ENTRY_BYTES + BUNDLE_TRAILER_BYTES}`);
  const t = count * ENTRY_BYTES;
  if (crc32c(tail.subarray(t + 24), crc32c(tail.subarray(0, t + 20))) !== tail.readUInt32LE(t + 20)) {
    throw new CheckpointCorruptError(`${source}: index checksum mismatch (damaged)`);
  }
  const sections: BundleSection[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * ENTRY_BYTES;
    const kind = KINDS[tail.readUInt8(at + 4)];
    const section = {
      partition: tail.readUInt32LE(at),
      id,
      kind: kind!,
      base: tail.readDoubleLE(at + 8),
      offset: tail.readDoubleLE(at + 16),
      position: tail.readDoubleLE(at + 24),
      length: tail.readDoubleLE(at + 32),
    };
    if (kind === undefined || section.position < 0 || section.position + section.length > indexPosition || (kind === 'full') !== (section.base === 0)) {
      throw new CheckpointCorruptError(`${source}: index entry ${i} (partition ${section.partition}) is not valid`);
    }
    sections.push(section);
  }
  return sections;
}

/** The index fields of a checkpoint about to be written at `position` as `length` bytes. */
export function sectionOf(c: PartitionCheckpoint, position: number, length: number): Omit<BundleSection, 'id'> {
  return { partition: c.partition, kind: c.kind, base: c.base, offset: c.offset, position, length };
}
