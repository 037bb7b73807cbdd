/**
 * Splits a stream of concatenated JSON objects (InfluxDB's chunked /query answer: one
 * object per chunk) into the objects' texts, whatever the chunk boundaries of the
 * transport and whether objects are separated by newlines or not. Only the text of the
 * object being read is kept.
 */
export class JsonObjectSplitter {
  private pending = '';
  /** Scan state at the end of `pending`. */
  private depth = 0;
  private inString = false;
  private escaped = false;

  /** Feeds text; returns the objects it completed. */
  push(text: string): string[] {
    const out: string[] = [];
    let start = 0;
    let { depth, inString, escaped } = this;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 0x5c) escaped = true; // backslash
        else if (c === 0x22) inString = false;
      } else if (c === 0x22) {
        inString = true;
      } else if (c === 0x7b || c === 0x5b) {
        if (depth === 0) {
          start = i;
          this.pending = '';
        }
        depth++;
      } else if (c === 0x7d || c === 0x5d) {
        depth--;
        if (depth === 0) {
          out.push(this.pending + text.slice(start, i + 1));
          this.pending = '';
          start = i + 1;
        }
      }
    }
    if (depth > 0) this.pending += text.slice(start);
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    return out;
  }

  /** True when the stream ended inside an object (a cut-off answer). */
  get incomplete(): boolean {
    return this.depth > 0;
  }
}
