import protobuf from 'protobufjs/minimal.js';
import { sluice } from './generated/telemetry.js';

// Without Long, protobufjs decodes 64-bit fields to plain numbers: exact up to 2^53,
// which covers millisecond timestamps and any realistic seq, and avoids an object per field.
protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();

/** Generated static codec for the device payload (package sluice.telemetry.v1). */
export const ReadingBatch = sluice.telemetry.v1.ReadingBatch;
export const Reading = sluice.telemetry.v1.Reading;
export const Series = sluice.telemetry.v1.Series;
export type IReadingBatch = sluice.telemetry.v1.IReadingBatch;
export type IReading = sluice.telemetry.v1.IReading;
export type ISeries = sluice.telemetry.v1.ISeries;
