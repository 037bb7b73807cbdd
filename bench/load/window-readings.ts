/** The load bench's InfluxDB 1.x calls: how many readings the window points of a set of devices counted, and dropping a round's database. */

/**
 * The sum of the `count` field of `measurement`'s points whose device starts with
 * `prefix`, polled until it reaches `expected` or has not grown for `stallMs`; returns the
 * last sum. A deadline from the round's end would call a backlog the processors are still
 * working off a loss: at 10 000 devices × 16 in flight a round ended ~2.7 M readings behind
 * and got there after a fixed 30 s.
 */
export async function countWindowReadings(influx: { url: string; database: string; measurement: string }, prefix: string, expected: number, stallMs: number): Promise<number> {
  const regex = prefix.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const q = `SELECT sum("count") FROM "${influx.measurement}" WHERE "device" =~ /^${regex}/`;
  const url = `${influx.url.replace(/\/$/, '')}/query?db=${encodeURIComponent(influx.database)}&q=${encodeURIComponent(q)}`;
  let last = -1;
  let deadline = 0;
  for (;;) {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`InfluxDB answered ${res.status} to ${q}: ${await res.text()}`);
    const body = (await res.json()) as { results?: { series?: { values?: [string, number][] }[]; error?: string }[] };
    const result = body.results?.[0];
    if (result?.error) throw new Error(`InfluxDB: ${result.error} (${q})`);
    const found = result?.series?.[0]?.values?.[0]?.[1] ?? 0;
    if (found >= expected) return found;
    if (found !== last) {
      last = found;
      deadline = Date.now() + stallMs;
    } else if (Date.now() >= deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Drops a round's database once it is verified. Left behind, every round's series stay in
 * influxd's in-memory index and its points in the compactor's queue: after 40 fleet rounds
 * the bench's influxd held 17 GB on disk and 18 GB of RSS, and spent its CPU on earlier
 * rounds' data while later rounds measured.
 */
export async function dropDatabase(influx: { url: string; database: string }): Promise<void> {
  const q = `DROP DATABASE "${influx.database.replace(/["\\]/g, '\\$&')}"`;
  const res = await fetch(`${influx.url.replace(/\/$/, '')}/query`, { method: 'POST', body: new URLSearchParams({ q }) });
  if (!res.ok) throw new Error(`InfluxDB answered ${res.status} to ${q}: ${await res.text()}`);
  const body = (await res.json()) as { results?: { error?: string }[] };
  const error = body.results?.[0]?.error;
  if (error !== undefined) throw new Error(`InfluxDB: ${error} (${q})`);
}
