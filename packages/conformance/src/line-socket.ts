/**
 * A unix-socket connection read line by line, with every wait bounded: connect with retries while QEMU creates
 * the socket, and `nextMatch` that resolves with the text up to a line matching a pattern or rejects on timeout.
 */
import net from 'node:net';

export class LineSocket {
  private buf = '';
  private waiters: (() => void)[] = [];
  private closed = false;
  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      this.wake();
    });
    sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    sock.on('error', () => {
      this.closed = true;
      this.wake();
    });
  }

  static async connect(path: string, timeoutMs: number, alive: () => boolean = () => true): Promise<LineSocket> {
    const deadline = Date.now() + timeoutMs;
    let last: Error | undefined;
    while (Date.now() < deadline && alive()) {
      try {
        const s = await new Promise<net.Socket>((resolve, reject) => {
          const c = net.connect(path);
          c.once('connect', () => resolve(c));
          c.once('error', reject);
        });
        return new LineSocket(s);
      } catch (e) {
        last = e as Error;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error(`cannot connect to ${path} within ${timeoutMs} ms${last ? `: ${last.message}` : ''}`);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(text: string): void {
    this.sock.write(text);
  }

  /** Wait for a complete line matching `re`; return the text before it and the line's match. */
  async nextMatch(re: RegExp, timeoutMs: number, what: string): Promise<{ before: string; match: RegExpExecArray }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let start = 0;
      for (;;) {
        const nl = this.buf.indexOf('\n', start);
        if (nl < 0) break;
        const line = this.buf.slice(start, nl).replace(/\r$/, '');
        const m = re.exec(line);
        if (m) {
          const before = this.buf.slice(0, start);
          this.buf = this.buf.slice(nl + 1);
          return { before, match: m };
        }
        start = nl + 1;
      }
      if (this.closed) throw new Error(`${what}: connection closed`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: no answer within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.sock.destroy();
  }
}
