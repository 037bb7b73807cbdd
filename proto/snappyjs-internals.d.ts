// snappyjs's compressor and decompressor, which write into a buffer the caller gives (its
// index.js allocates a fresh zero-filled one per call). Untyped upstream.
declare module 'snappyjs/snappy_compressor.js' {
  export class SnappyCompressor {
    constructor(uncompressed: Uint8Array);
    /** The most bytes compressToBuffer() may write. */
    maxCompressedLength(): number;
    /** Compresses into `out` from its start (at least maxCompressedLength() bytes; it need not be zeroed); returns the bytes written. */
    compressToBuffer(out: Uint8Array): number;
  }
}
declare module 'snappyjs/snappy_decompressor.js' {
  export class SnappyDecompressor {
    constructor(compressed: Uint8Array);
    /** The length the block says it uncompresses to; −1 when the varint is bad. */
    readUncompressedLength(): number;
    /** Uncompresses into `out` from its start (no bounds check: pass exactly the length); false on a corrupt block. */
    uncompressToBuffer(out: Uint8Array): boolean;
  }
}
