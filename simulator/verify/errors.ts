import { SluiceError } from '../../core/index.js';

/** The report file is missing, unreadable, not JSON, of another version or not a simulate report. */
export class ReportInvalidError extends SluiceError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SLUICE_VERIFY_REPORT_INVALID', message, options);
  }
}

/** InfluxDB could not be reached or did not answer in time; running verify again may work. */
export class VerifyInfluxUnavailableError extends SluiceError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SLUICE_VERIFY_INFLUX_UNAVAILABLE', message, { ...options, canRetry: true });
  }
}

/** InfluxDB refused the query (credentials, unknown database, bad answer): the settings need fixing. */
export class VerifyQueryError extends SluiceError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SLUICE_VERIFY_QUERY_FAILED', message, options);
  }
}
