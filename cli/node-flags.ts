/**
 * Node flags a Sluice server process runs with: the `sluice` command's shebang carries them
 * (`#!/usr/bin/env -S node …`), deploy/Dockerfile's ENTRYPOINT too, and whatever starts
 * `node dist/cli/main.js` itself (the demo, the benchmarks) passes them. V8 reads them only
 * at start-up (`v8.setFlagsFromString` after it does not resize the heap), so they cannot be
 * set from inside. node-flags.test.ts checks that the three places agree.
 *
 * `--max-semi-space-size=64` (MB; Node 20's default is 16): the gateway's thread holds every
 * publish in flight (its packet, payload view and callbacks) for the few milliseconds until
 * its micro-batch is durable, so with the default young generation a share of them lived
 * through two scavenges, was promoted, and died in the old generation. Some processes ran so
 * the whole run: under the single-reading closed loop (50 × 16 in flight) a quarter of the
 * gateway's thread went to GC (5 % otherwise), and such a round made 155–183 k msgs/s
 * against 225–235 k (1 round in 3 to 4; 8.2 against 5.8 CPU s per M msgs, V8's helper
 * threads included). With 64 MB no round of 10 ran slow (231–248 k msgs/s); RSS ~+50 MB.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];
