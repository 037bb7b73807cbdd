/** Whether this processor may write to InfluxDB now (distributed mode: held closed while a lease may have passed to another processor). */
export interface WriteGate {
  isOpen(): boolean;
  /** Resolves once isOpen() may be true again (the caller checks again). */
  whenOpen(): Promise<void>;
}
