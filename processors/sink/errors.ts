/**
 * The sink's errors. They extend core's SluiceError with the codes DESIGN.md names; they
 * live here only because this change may not touch core/ — move them to core/errors.ts.
 */
import { SluiceError } from '../../core/errors.js';

/** InfluxDB cannot take writes right now (network, timeout, 5xx, 429); the same batch may succeed later. */
export class SinkUnavailableError extends SluiceError {
  /** HTTP status, when InfluxDB answered at all. */
  readonly status: number | undefined;
  constructor(message: string, options: { cause?: unknown; status?: number } = {}) {
    super('SLUICE_SINK_UNAVAILABLE', message, { cause: options.cause, canRetry: true });
    this.status = options.status;
  }
}

/** InfluxDB refuses every write until someone fixes the configuration (401, 403, 404, …, or an untrusted TLS certificate). */
export class SinkRejectedError extends SluiceError {
  /** HTTP status; 0 when the TLS handshake failed before any HTTP. */
  readonly status: number;
  constructor(message: string, status: number, options: { cause?: unknown } = {}) {
    super('SLUICE_SINK_REJECTED', message, { cause: options.cause, canRetry: false });
    this.status = status;
  }
}

/** The writer was closed while a batch was not yet durable; the batch stays in the log and is replayed. */
export class SinkClosedError extends SluiceError {
  constructor(message = 'InfluxDB writer closed before the batch was written') {
    super('SLUICE_SINK_CLOSED', message, { canRetry: false });
  }
}

/**
 * A write or delete was due while the write gate was closed (distributed mode: a lease not
 * renewed in time) and was not sent; InfluxSink puts its points back and sends them, less
 * those of partitions it lost meanwhile, once the gate opens.
 */
export class SinkGateClosedError extends SluiceError {
  constructor() {
    super('SLUICE_SINK_GATE_CLOSED', 'an InfluxDB request was held back: this processor\'s partition leases were not renewed in time; it is sent once they are, for the partitions still held', { canRetry: true });
  }
}

/** A point cannot be written as line protocol (NaN, a non-integer integer field, no fields, …). */
export class PointInvalidError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_SINK_POINT_INVALID', message);
  }
}

/** influx.tls names a file that cannot be read or is not PEM: fix the path or the file. */
export class SinkTlsError extends SluiceError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SLUICE_SINK_TLS_INVALID', message, { cause: options.cause, canRetry: false });
  }
}
