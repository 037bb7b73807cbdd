/**
 * A 64-bit integer field. Decoded values are numbers (proto/telemetry.ts disables Long),
 * but an ABSENT field reads the generated prototype default, which the generated module
 * created as Long(0) before telemetry.ts disabled Long: read these through `toNumber64`.
 */
export type Int64 = number | { toNumber(): number };

/** A 64-bit field as a number (see Int64); absent = 0. */
export function toNumber64(v: Int64 | null | undefined): number {
  return typeof v === 'number' ? v : v == null ? 0 : v.toNumber();
}

/**
 * The decoded payload as the validator reads it: the fields of the generated
 * ReadingBatch/Reading/Series classes (proto3 defaults live on their prototypes, so
 * absent fields read as Long(0), '', [] or null), which the JSON reader also produces.
 * Nullable because the generated types are, not because decoded messages carry nulls.
 */
export interface ReadingFields {
  metric?: string | null;
  timeUnixMs?: Int64 | null;
  doubleValue?: number | null;
  /**
   * A oneof member: its default is null, so present = decoded. Protobuf gives a number,
   * rounded past 2^53 (the decoder then reads it again exactly: proto/reading-int-values.ts);
   * JSON gives a bigint for a decimal string past 2^53, else a number.
   */
  intValue?: number | bigint | null;
  boolValue?: boolean | null;
  stringValue?: string | null;
  tags?: Record<string, string> | null;
}

export interface SeriesFields {
  metric?: string | null;
  startUnixMs?: Int64 | null;
  /** Decoded values only (an absent repeated field is empty); a Float64Array from proto's Series-only reader. */
  timeDeltaMs?: ArrayLike<number> | null;
  values?: ArrayLike<number> | null;
}

export interface BatchFields {
  seq?: Int64 | null;
  readings?: ReadingFields[] | null;
  series?: SeriesFields[] | null;
}
