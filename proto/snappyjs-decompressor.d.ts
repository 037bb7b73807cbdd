// snappyjs's decompressor, which writes into a buffer the caller gives (its index.js
// only allocates a fresh zero-filled one per call). Untyped upstream.
declare module 'snappyjs/snappy_decompressor.js' {
  export class SnappyDecompressor {
    constructor(compressed: Uint8Array);
    /** The length the block says it uncompresses to; −1 when the varint is bad. */
    readUncompressedLength(): number;
    /** Uncompresses into `out` from its start (no bounds check: pass exactly the length); false on a corrupt block. */
    uncompressToBuffer(out: Uint8Array): boolean;
  }
}
