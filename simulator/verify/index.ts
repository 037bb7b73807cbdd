export { closeEnough, compareFields, quantileWithin, RELATIVE_TOLERANCE } from './compare.js';
export { ReportInvalidError, VerifyInfluxUnavailableError, VerifyQueryError } from './errors.js';
export { formatVerifyResult, pointLabel } from './format.js';
export { InfluxPointSource, type VerifyInfluxConfig } from './influx-source.js';
export { readReportFile } from './report-file.js';
export { runVerify } from './run-verify.js';
export { checkReport, DEFAULT_MAX_LISTED, verifyExpected, verifyReport, verifyReportUntilExact, type UntilExactOptions, type VerifyOptions } from './verify.js';
export type { FieldDiff, MeasurementCounts, Mismatch, PointRef, StoredPoint, StoredPointQuery, StoredPointSource, VerifyResult } from './types.js';
export { ALERTS_MEASUREMENT, verifyAlerts, type AlertsSummary } from './verify-alerts.js';
