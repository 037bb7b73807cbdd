import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../test/harness/temp-dir.js';
import { configLeaves, loadConfig } from './config-loader.js';

describe('loadConfig', () => {
  it('gives the documented defaults with no file', async () => {
    const config = await loadConfig({ env: {} });
    expect(config.mqtt.port).toBe(1883);
    expect(config.http.port).toBe(9464);
    expect(config.partitions).toBe(64);
    expect(config.auth.mode).toBe('registry');
    expect(config.mqtt.maxPacketBytes).toBe(256 * 1024);
    expect(config.ingest.batchMaxDelay).toBe(5);
  });

  it('layers file < SLUICE_* env < flags, and resolves file paths against the file', async () => {
    const dir = await tempDir();
    const file = join(dir.path, 'sluice.yaml');
    await writeFile(file, 'mqtt:\n  port: 1000\n  maxPacketBytes: 65536\ndataDir: ./here\nauth:\n  mode: token\n  fleetKey: "0123456789abcdef0123"\nrules:\n  file: alerts/rules.yaml\n');
    const config = await loadConfig({ file, env: { SLUICE_MQTT_PORT: '2000', SLUICE_MQTT_MAX_PACKET_BYTES: '32768' }, overrides: { 'mqtt.port': '3000' } });
    expect(config.mqtt.port).toBe(3000);
    expect(config.mqtt.maxPacketBytes).toBe(32768);
    expect(config.dataDir).toBe(join(dir.path, 'here'));
    expect(config.rules.file).toBe(join(dir.path, 'alerts', 'rules.yaml'));
    expect(config.auth.fleetKey).toBe('0123456789abcdef0123');
    await dir.remove();
  });

  it('keeps text keys as text from the environment', async () => {
    const config = await loadConfig({ env: { SLUICE_AUTH_MODE: 'token', SLUICE_AUTH_FLEET_KEY: '12345678901234567890' } });
    expect(config.auth.fleetKey).toBe('12345678901234567890');
  });

  it('names an unknown key by its full path', async () => {
    const dir = await tempDir();
    const file = join(dir.path, 'bad.yaml');
    await writeFile(file, 'mqtt:\n  prot: 1883\nwindowz: []\n');
    await expect(loadConfig({ file, env: {} })).rejects.toThrow(/unknown key 'mqtt\.prot'[\s\S]*unknown key 'windowz'/);
    await dir.remove();
  });

  it('names the path, the value and its source for a bad value', async () => {
    await expect(loadConfig({ env: { SLUICE_MQTT_PORT: 'eighty' } })).rejects.toThrow(/mqtt\.port: .*got "eighty" from SLUICE_MQTT_PORT/);
    await expect(loadConfig({ env: {}, overrides: { 'ingest.batchMaxDelay': 'soon' } })).rejects.toThrow(/ingest\.batchMaxDelay: "soon" is not a duration/);
  });

  it('does not print a secret that failed validation', async () => {
    const err = await loadConfig({ env: { SLUICE_AUTH_MODE: 'token', SLUICE_AUTH_FLEET_KEY: 'short-secret' } }).catch((e: Error) => e);
    expect(String(err)).toMatch(/auth\.fleetKey/);
    expect(String(err)).not.toMatch(/short-secret/);
  });

  it('refuses an unknown key given as a flag', async () => {
    await expect(loadConfig({ env: {}, overrides: { 'mqtt.nope': '1' } })).rejects.toThrow(/unknown config key 'mqtt\.nope'/);
  });

  it('maps every leaf to SLUICE_ + the path in upper snake case', () => {
    const envs = configLeaves().map((l) => l.env);
    expect(envs).toContain('SLUICE_MQTT_PORT');
    expect(envs).toContain('SLUICE_MQTT_MAX_PACKET_BYTES');
    expect(envs).toContain('SLUICE_DATA_DIR');
    expect(envs).toContain('SLUICE_MQTT_TLS_CERT');
  });
});
