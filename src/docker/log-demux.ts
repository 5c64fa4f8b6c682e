import { Transform, type TransformCallback } from 'node:stream';

/**
 * Docker's multiplexed log stream (8-byte headers: stream, 0, 0, 0, size; then the frame) as a
 * stream of the frames' bytes, stdout and stderr together. Nothing is held beyond the frame
 * being read, and backpressure reaches the engine's socket, so however much a container
 * prints, the reader's memory stays flat. A stream that does not start with a header (a TTY
 * container) is passed through as it is.
 */
export class DockerDemux extends Transform {
  private header = Buffer.alloc(0);
  private left = 0;
  private raw = false;

  constructor() {
    super({ highWaterMark: 64 * 1024 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.raw) {
      this.push(chunk);
      return cb();
    }
    let i = 0;
    while (i < chunk.length) {
      if (this.left > 0) {
        const n = Math.min(this.left, chunk.length - i);
        this.push(chunk.subarray(i, i + n));
        this.left -= n;
        i += n;
        continue;
      }
      const need = 8 - this.header.length;
      const part = chunk.subarray(i, i + need);
      this.header = this.header.length === 0 ? Buffer.from(part) : Buffer.concat([this.header, part]);
      i += part.length;
      if (this.header.length < 8) break;
      const h = this.header;
      this.header = Buffer.alloc(0);
      if ((h[0] !== 0 && h[0] !== 1 && h[0] !== 2) || h[1] !== 0 || h[2] !== 0 || h[3] !== 0) {
        // Not multiplexed: everything is output.
        this.raw = true;
        this.push(h);
        if (i < chunk.length) this.push(chunk.subarray(i));
        return cb();
      }
      this.left = h.readUInt32BE(4);
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.header.length > 0) this.push(this.header); // a short TTY output
    cb();
  }
}
