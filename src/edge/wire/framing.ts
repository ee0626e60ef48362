/**
 * drachtio wire framing: `<N>#<payload>` where N is the payload's UTF-8 byte length.
 * Frames may be split across TCP reads or share one read; the decoder handles both.
 */

/** Largest frame an app may send us; the real server's buffer is ~12 KB, we allow more but stay bounded. */
const MAX_FRAME_BYTES = 1_000_000;

export class FrameError extends Error {
  constructor(message: string) { super(message); this.name = 'FrameError'; }
}

/** One frame as a string: written as such, it costs one copy instead of three Buffers (profile, docs/performance.md). */
export function frameText(payload: string): string {
  return `${Buffer.byteLength(payload, 'utf8')}#${payload}`;
}

export function encodeFrame(payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length}#`, 'latin1'), body]);
}

export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  /** Returns complete payloads; throws FrameError on a corrupt length (the connection must then be dropped). */
  push(chunk: Buffer): string[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: string[] = [];
    for (;;) {
      const hash = this.buf.indexOf(0x23); // '#'
      if (hash < 0) {
        if (this.buf.length > 7 || !/^\d*$/.test(this.buf.toString('latin1'))) throw new FrameError('invalid frame length prefix');
        break;
      }
      const digits = this.buf.toString('latin1', 0, hash);
      if (!/^\d{1,7}$/.test(digits)) throw new FrameError(`invalid frame length: ${digits.slice(0, 10)}`);
      const n = Number(digits);
      if (n <= 0 || n > MAX_FRAME_BYTES) throw new FrameError(`frame length out of range: ${n}`);
      if (this.buf.length < hash + 1 + n) break;
      out.push(this.buf.toString('utf8', hash + 1, hash + 1 + n));
      this.buf = this.buf.subarray(hash + 1 + n);
    }
    return out;
  }
}
