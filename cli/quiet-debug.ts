import { createRequire } from 'node:module';

/**
 * mqtt-packet calls the `debug` package several times per packet it parses or writes. A
 * disabled `debug` logger still collects its arguments into a rest array and evaluates
 * its `enabled` getter on every call: under a single-reading load that was 19 % of all the
 * gateway thread's allocation (4 call sites, ~570 MiB in 8 s at 58 k msgs/s) and 2.5 % of
 * its time. When DEBUG names no namespace at start-up, loggers made afterwards are plain
 * no-op functions instead; with DEBUG set, `debug` is left exactly as it is.
 *
 * Must run before mqtt-packet is first loaded (its loggers are made at module load): the
 * CLI imports this module first.
 */
function quietDebugUnlessAsked(): void {
  if ((process.env.DEBUG ?? '').trim() !== '') return;
  // Resolve `debug` as mqtt-packet does, so it is the copy mqtt-packet will load.
  const fromPacket = createRequire(createRequire(import.meta.url).resolve('mqtt-packet'));
  const path = fromPacket.resolve('debug');
  const real = fromPacket('debug') as DebugFactory;
  const cached = fromPacket.cache[path];
  if (cached === undefined) return;
  const quiet: DebugFactory = Object.assign(quietFactory(real), real);
  // debug names itself `.debug` and `.default` too (ESM interop reads the latter): those must be the quiet one.
  quiet.debug = quiet;
  quiet.default = quiet;
  cached.exports = quiet;
}

interface DebugFactory {
  (namespace: string): unknown;
  [key: string]: unknown;
}

/** A factory like `debug`'s whose loggers are disabled and do nothing, at the cost of an empty call. */
function quietFactory(real: DebugFactory): (namespace: string) => unknown {
  const make = (namespace: string): unknown => {
    const logger = (): void => undefined;
    return Object.assign(logger, {
      namespace,
      enabled: false,
      log: real.log,
      extend: (sub: string, delimiter = ':') => make(`${namespace}${delimiter}${sub}`),
      destroy: () => undefined,
    });
  };
  return make;
}

quietDebugUnlessAsked();
