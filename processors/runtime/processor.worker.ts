/**
 * A processor worker thread: runs a ProcessorNode over the partitions it was given,
 * reading the log through a RemoteLog; answers the pool's stop and metrics requests.
 */
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { Registry } from 'prom-client';
import { createLogger, ExitCode, StorageHealth } from '../../core/index.js';
import { LocalCheckpointStore } from '../checkpoint/index.js';
import type { ProcessorConfig } from '../config.js';
import { ProcessorNode } from '../processor-node.js';
import type { WorkerMessage } from './log-link-protocol.js';
import type { ProcessorWorkerData } from './processor-pool.js';
import { RemoteLog } from './remote-log.js';

const data = workerData as ProcessorWorkerData;
const port = parentPort!;
const send = (message: WorkerMessage): void => port.postMessage(message);
const log = new RemoteLog(data.memory, port, data.thread);
const registry = new Registry();
const config = data.config as ProcessorConfig;
const logger = createLogger('sluice').child({ component: 'processor', thread: data.thread });
// Counted and logged here; the main thread only mirrors the state, for /readyz.
const health = new StorageHealth({ registry, logger, onChange: (component, errno) => send({ kind: 'storage', component, errno }) });
const node = new ProcessorNode(config, {
  log,
  // Embedded mode: checkpoints in the dataDir, shared by every thread (each writes bundles of its own partitions).
  store: new LocalCheckpointStore(join(data.dataDir, 'checkpoints'), config.checkpoint.keep),
  health,
  tail: log,
  registry,
  logger,
  partitions: data.partitions,
  onSinkRefusal: (problem) => send({ kind: 'sink', problem }),
  // Alerts are rare (a transition, not a reading): one message each to the gateway's thread.
  onAlert: (transition) => send({ kind: 'alert', transition }),
  // The thread ends with ExitCode.internal; the pool sees it and takes the process down with the same code.
  onFatal: (err) => {
    logger.fatal({ err }, 'processor loop failed; exiting');
    process.exit(ExitCode.internal);
  },
});

port.on('message', (message: WorkerMessage) => {
  switch (message.kind) {
    case 'log-response':
      log.onResponse(message.response);
      break;
    case 'metrics':
      registry.getMetricsAsJSON().then((metrics) => send({ kind: 'metrics-response', id: message.id, metrics }));
      break;
    case 'reload-rules':
      void node.reloadRules();
      break;
    case 'stop':
      node
        .stop({ checkpoint: message.checkpoint, timeoutMs: message.timeoutMs })
        .catch((err: unknown) => logger.error({ err }, 'processor did not stop cleanly; the next start replays from its last checkpoint'))
        .then(() => log.close())
        .then(() => {
          send({ kind: 'stopped' });
          port.close();
        });
      break;
  }
});

node.start().then(
  () => send({ kind: 'started' }),
  (err: Error & { code?: string }) => send({ kind: 'start-failed', code: err.code ?? 'SLUICE_PROCESSOR_START_FAILED', message: err.message }),
);
