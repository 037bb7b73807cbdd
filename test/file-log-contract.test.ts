/** FileLog passes the same Log contract tests as JetStreamLog (test/log-contract.ts). */
import { FileLog } from '../log/index.js';
import { CONTRACT_PARTITIONS, describeLogContract } from './log-contract.js';
import { tempDir } from './harness/temp-dir.js';

describeLogContract('FileLog', async () => {
  const dir = await tempDir('sluice-filelog-contract-');
  return {
    open: () => FileLog.open({ dir: dir.path, partitions: CONTRACT_PARTITIONS }),
    destroy: dir.remove,
  };
});
