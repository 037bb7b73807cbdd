/**
 * Every error Sluice raises on purpose, in one place, each with a stable `code`.
 * Messages say what was wrong, the value, and what to do.
 */
export class SluiceError extends Error {
  readonly code: string;
  /** True when the same call may succeed later (network, outage), false when it never will. */
  readonly canRetry: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; canRetry?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.canRetry = options.canRetry ?? false;
  }
}

/** A configuration value is missing, unknown or of the wrong shape. */
export class ConfigError extends SluiceError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SLUICE_CONFIG_INVALID', message, options);
  }
}

/** A command line that cannot work as given (a flag's syntax, a choice): exit 2, like a ConfigError. */
export class UsageError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_USAGE', message);
  }
}

/** A command named a device the registry does not hold. */
export class DeviceUnknownError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_DEVICE_UNKNOWN', message);
  }
}

/**
 * A listener's address is taken. `key` is the config key that chose the port
 * (`mqtt.port`, `http.port`, `mqtt.wsPort`, `mqtt.tls.port`), so the message can say what to change.
 */
export class PortInUseError extends SluiceError {
  readonly key: string;
  constructor(key: string, message: string, options: { cause?: unknown } = {}) {
    super('SLUICE_PORT_IN_USE', message, options);
    this.key = key;
  }
}

/** A listener could not bind for another reason than a taken port (a privileged port, an address not on this host). */
export class ListenFailedError extends SluiceError {
  readonly key: string;
  constructor(key: string, message: string, options: { cause?: unknown } = {}) {
    super('SLUICE_LISTEN_FAILED', message, options);
    this.key = key;
  }
}

/**
 * A CONNECT was refused; `returnCode` is the MQTT 3.1.1 CONNACK code (§3.2.2.3) and
 * `reason` the label of `sluice_gateway_connections_refused_total` it is counted under.
 */
export class AuthRefusedError extends SluiceError {
  readonly returnCode: 2 | 4 | 5;
  readonly reason: string;
  constructor(message: string, returnCode: 2 | 4 | 5 = 5, reason = 'auth_refused') {
    super('SLUICE_AUTH_REFUSED', message);
    this.returnCode = returnCode;
    this.reason = reason;
  }
}

/**
 * Too many credential checks are queued to take another; the client may retry later
 * (CONNACK 3, "server unavailable", MQTT 3.1.1 §3.2.2.3).
 */
export class AuthBusyError extends SluiceError {
  readonly returnCode = 3;
  readonly reason = 'auth_busy';
  constructor(message: string) {
    super('SLUICE_AUTH_BUSY', message, { canRetry: true });
  }
}

/** A client asked to publish or subscribe outside what its ACL grants. */
export class AclDeniedError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ACL_DENIED', message);
  }
}

/** A client broke an MQTT 3.1.1 rule that aedes does not enforce itself. */
export class ProtocolViolationError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_PROTOCOL_VIOLATION', message);
  }
}

/** A payload could not be decoded or failed validation; `reason` is its dead-letter reason. */
export class DecodeInvalidError extends SluiceError {
  readonly reason: string;
  constructor(reason: string, message: string, options: { cause?: unknown } = {}) {
    super('SLUICE_DECODE_INVALID', message, options);
    this.reason = reason;
  }
}

/** A log segment or record failed its integrity check. */
export class LogCorruptError extends SluiceError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SLUICE_LOG_CORRUPT', message, options);
  }
}

/** A snappy block (a log record or a checkpoint chunk) does not uncompress, or claims more bytes than its reader allows. */
export class SnappyBlockError extends SluiceError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SLUICE_SNAPPY_CORRUPT', message, options);
  }
}

/** A read or trim named an offset the log does not hold. */
export class LogOffsetError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_LOG_OFFSET', message);
  }
}

/** An append the log refuses for good: an empty record, or one larger than the log can store. */
export class LogRecordInvalidError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_LOG_RECORD_INVALID', message);
  }
}

/**
 * The log was closed: a call after close(), or an append still waiting for the server
 * when close() gave it up. Never acknowledged, so the device's retry is safe: canRetry.
 */
export class LogClosedError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_LOG_CLOSED', message, { canRetry: true });
  }
}

/** A read, trim or lookup could not reach the log's server (a network partition, a leader election); the same call may work later. */
export class LogUnavailableError extends SluiceError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SLUICE_LOG_UNAVAILABLE', message, { ...options, canRetry: true });
  }
}

/** The device registry file is missing, unreadable or malformed. */
export class RegistryError extends SluiceError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SLUICE_REGISTRY_INVALID', message, options);
  }
}

/** The ACL file could not be parsed; the message names the line. */
export class AclFileError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ACL_FILE_INVALID', message);
  }
}

/** Another live process holds the data directory's lock (`dataDir/sluice.lock`). */
export class DataDirLockedError extends SluiceError {
  constructor(
    readonly dataDir: string,
    readonly holderPid: number,
  ) {
    super(
      'SLUICE_DATADIR_LOCKED',
      `data directory ${dataDir} is in use by sluice process ${holderPid}: stop it first, or give this process another dataDir`,
    );
  }
}
