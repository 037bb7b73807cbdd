import { describe, expect, it } from 'vitest';
import { loadConfig } from '../cli/config-loader.js';

const load = (overrides: Record<string, string>) => loadConfig({ env: {}, overrides });

describe('mqtt listener config', () => {
  it('defaults: TCP on, no WSS, client certificates off and identity from the CN', async () => {
    const config = await load({ 'mqtt.tls.cert': 'c.pem', 'mqtt.tls.key': 'k.pem' });
    expect(config.mqtt.tcp).toBe(true);
    expect(config.mqtt.wssPort).toBeUndefined();
    expect(config.mqtt.tls).toMatchObject({ port: 8883, requireClientCert: false, identity: 'cn' });
    expect(config.mqtt.tls!.ca).toBeUndefined();
  });

  it('refuses combinations that cannot work, naming the key and what to set', async () => {
    await expect(load({ 'mqtt.tls.cert': 'c.pem', 'mqtt.tls.key': 'k.pem', 'mqtt.tls.requireClientCert': 'true' })).rejects.toThrow(/mqtt\.tls\.requireClientCert.*needs mqtt\.tls\.ca/);
    await expect(load({ 'mqtt.wssPort': '8884' })).rejects.toThrow(/mqtt\.wssPort.*needs mqtt\.tls/);
    await expect(load({ 'mqtt.tcp': 'false' })).rejects.toThrow(/mqtt\.tcp.*no other MQTT listener/);
  });
});
