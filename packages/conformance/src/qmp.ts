/**
 * A small QMP client (QEMU Machine Protocol, JSON lines over a unix socket): capabilities negotiation, commands
 * with ids, and events kept so a step can wait for DEVICE_DELETED or ACPI_DEVICE_OST after it acted.
 */
import { LineSocket } from './line-socket.js';

export interface QmpEvent {
  readonly event: string;
  readonly data?: Record<string, unknown>;
}

export class QmpError extends Error {
  override readonly name = 'QmpError';
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command}: ${errorClass}: ${desc}`);
  }
}

export class Qmp {
  private nextId = 1;
  readonly events: QmpEvent[] = [];
  private constructor(private readonly s: LineSocket) {}

  static async connect(path: string, timeoutMs: number, alive: () => boolean): Promise<Qmp> {
    const s = await LineSocket.connect(path, timeoutMs, alive);
    const q = new Qmp(s);
    await s.nextMatch(/^\{"QMP":/, timeoutMs, 'QMP greeting');
    await q.execute('qmp_capabilities', undefined, timeoutMs);
    return q;
  }

  /** Run a command; resolve with its `return`, reject with a QmpError. Events seen meanwhile are kept. */
  async execute(command: string, args?: Record<string, unknown>, timeoutMs = 30_000): Promise<unknown> {
    const id = `m${this.nextId++}`;
    this.s.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    for (;;) {
      const { match } = await this.s.nextMatch(/^\{.*\}$/, timeoutMs, `QMP ${command}`);
      const msg = JSON.parse(match[0]) as { id?: string; return?: unknown; error?: { class: string; desc: string }; event?: string; data?: Record<string, unknown> };
      if (msg.event) {
        this.events.push({ event: msg.event, ...(msg.data ? { data: msg.data } : {}) });
        continue;
      }
      if (msg.id !== id) continue;
      if (msg.error) throw new QmpError(command, msg.error.class, msg.error.desc);
      return msg.return;
    }
  }

  /** Wait until an event satisfying `pred` has arrived (looking at those already kept first); null on timeout. */
  async waitEvent(pred: (e: QmpEvent) => boolean, timeoutMs: number): Promise<QmpEvent | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find(pred);
      if (hit) {
        this.events.splice(this.events.indexOf(hit), 1);
        return hit;
      }
      const left = deadline - Date.now();
      if (left <= 0) return null;
      try {
        const { match } = await this.s.nextMatch(/^\{.*"event".*\}$/, left, 'QMP event');
        const msg = JSON.parse(match[0]) as { event: string; data?: Record<string, unknown> };
        this.events.push({ event: msg.event, ...(msg.data ? { data: msg.data } : {}) });
      } catch {
        return null;
      }
    }
  }

  close(): void {
    this.s.close();
  }
}
