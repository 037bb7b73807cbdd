/**
 * Node flags a Sluice server process runs with: the `sluice` command's shebang carries them
 * (`#!/usr/bin/env -S node …`), deploy/Dockerfile's ENTRYPOINT too, and whatever starts
 * `node dist/cli/main.js` itself (the demo, the benchmarks) passes them. V8 reads them only
 * at start-up (`v8.setFlagsFromString` after it does not resize the heap), so they cannot be
 * set from inside. node-flags.test.ts checks that the three places agree.
 *
 * `--max-semi-space-size=32` (MB; Node 20's default is 16): the gateway's thread holds every
 * publish in flight (its packet, payload view and callbacks) for the few milliseconds until
 * its micro-batch is durable, so with the default young generation a share of them lived
 * through two scavenges, was promoted, and died in the old generation. Some processes ran so
 * the whole run: under the single-reading closed loop (50 × 16 in flight) a quarter of the
 * gateway's thread went to GC (5 % otherwise), and such a round made 155–183 k msgs/s
 * against 225–235 k (1 round in 3 to 4; 8.2 against 5.8 CPU s per M msgs, V8's helper
 * threads included). With 32 MB no round of 6 ran slow (223–240 k msgs/s); 64 MB was ~2 %
 * faster still (228–248 k, none slow in 14) but raised the fleet load's RSS by ~300 MB
 * (1.83–1.89 GB against 1.35–1.57), where 32 MB kept it at 1.56 GB; the fleet's rate was
 * the same with all three (4.31–4.49 M readings/s).
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];
