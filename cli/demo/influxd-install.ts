import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SluiceError } from '../../core/index.js';

const CANDIDATES = ['/usr/bin/influxd', '/usr/sbin/influxd', '/usr/local/bin/influxd'];

/** The influxd binary: $SLUICE_INFLUXD, a usual install path, or whatever `influxd` is on PATH. */
export function findInfluxd(): string | undefined {
  if (process.env.SLUICE_INFLUXD) return process.env.SLUICE_INFLUXD;
  const found = CANDIDATES.find((path) => existsSync(path));
  if (found) return found;
  const which = spawnSync('sh', ['-c', 'command -v influxd'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() ? which.stdout.trim() : undefined;
}

/**
 * Makes sure influxd 1.x is installed: as root on Debian/Ubuntu it installs the
 * `influxdb` package with apt-get; otherwise it says exactly what to install.
 */
export function ensureInfluxd(say: (line: string) => void): string {
  const found = findInfluxd();
  if (found) return found;
  const isRoot = process.getuid?.() === 0;
  if (isRoot && existsSync('/usr/bin/apt-get')) {
    say('InfluxDB is not installed: installing Debian\'s influxdb package with apt-get …');
    const install = (): boolean => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'influxdb'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
    if (!install()) {
      spawnSync('apt-get', ['update'], { stdio: 'inherit' });
      install();
    }
    const installed = findInfluxd();
    if (installed) return installed;
  }
  throw new SluiceError(
    'SLUICE_DEMO_NO_INFLUXD',
    'the demo needs InfluxDB 1.x (influxd), which is not installed. On Debian or Ubuntu run `sudo apt-get install influxdb` ' +
      '(or `npm run setup` as root), or set SLUICE_INFLUXD to an influxd binary; then run `npm run demo` again.',
  );
}
