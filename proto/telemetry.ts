// Order matters: Long must be off before the generated module evaluates.
import './protobuf-numbers.js';
import { sluice } from './generated/telemetry.js';

/** Generated static codec for the device payload (package sluice.telemetry.v1). */
export const ReadingBatch = sluice.telemetry.v1.ReadingBatch;
export const Reading = sluice.telemetry.v1.Reading;
export const Series = sluice.telemetry.v1.Series;
export type IReadingBatch = sluice.telemetry.v1.IReadingBatch;
export type IReading = sluice.telemetry.v1.IReading;
export type ISeries = sluice.telemetry.v1.ISeries;
