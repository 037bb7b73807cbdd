import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const QUIET_DEBUG = fileURLToPath(new URL('../dist/cli/quiet-debug.js', import.meta.url));

// What mqtt-packet sees once the CLI has loaded quiet-debug: its loggers, and whether
// parsing a PUBLISH still works and still logs when DEBUG asks it to.
const PROBE = `
import { createRequire } from 'node:module';
await import(${JSON.stringify(QUIET_DEBUG)});
const req = createRequire(createRequire(process.cwd() + '/').resolve('mqtt-packet'));
const logger = req('debug')('mqtt-packet:parser');
const mqttPacket = req('mqtt-packet');
const parser = mqttPacket.parser();
let topic;
parser.on('packet', (p) => (topic = p.topic));
parser.parse(mqttPacket.generate({ cmd: 'publish', topic: 'devices/d1/telemetry', payload: Buffer.from('x'), qos: 1, messageId: 7 }));
// debug's own loggers decide per call through an 'enabled' getter; quiet ones have a plain false.
const enabledIsGetter = typeof Object.getOwnPropertyDescriptor(logger, 'enabled')?.get === 'function';
console.log(JSON.stringify({ enabled: logger.enabled, enabledIsGetter, hasEnable: typeof req('debug').enable, defaultIsItself: req('debug').default === req('debug'), topic }));
`;

async function probe(debugEnv: string | undefined): Promise<{ out: { enabled: boolean; enabledIsGetter: boolean; hasEnable: string; defaultIsItself: boolean; topic: string }; stderr: string }> {
  const env = { ...process.env };
  delete env.DEBUG;
  if (debugEnv !== undefined) env.DEBUG = debugEnv;
  const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', PROBE], { env, cwd: fileURLToPath(new URL('..', import.meta.url)) });
  return { out: JSON.parse(stdout.trim()) as { enabled: boolean; enabledIsGetter: boolean; hasEnable: string; defaultIsItself: boolean; topic: string }, stderr };
}

describe('quiet-debug', () => {
  it('gives mqtt-packet no-op loggers when DEBUG is unset, and packets still parse', async () => {
    const { out, stderr } = await probe(undefined);
    expect(out).toEqual({ enabled: false, enabledIsGetter: false, hasEnable: 'function', defaultIsItself: true, topic: 'devices/d1/telemetry' });
    expect(stderr).toBe('');
  });

  it('leaves debug as it is when DEBUG names a namespace', async () => {
    const { out, stderr } = await probe('mqtt-packet:*');
    expect(out.enabled).toBe(true);
    expect(out.enabledIsGetter).toBe(true);
    expect(out.topic).toBe('devices/d1/telemetry');
    expect(stderr).toContain('mqtt-packet:parser');
  });
});
