/** The host side of the guest agent's line protocol (agent/init.sh): one request at a time, bounded. */
import { LineSocket } from './line-socket.js';

export interface AgentReply {
  /** `0`, or the shell's error text (e.g. `Invalid argument`) / exit status. */
  readonly status: string;
  readonly body: string;
}

export class Agent {
  private nextId = 1;
  private constructor(
    private readonly s: LineSocket,
    /** `uname -r` the agent reported when it was ready. */
    readonly release: string,
  ) {}

  static async connect(path: string, bootTimeoutMs: number, alive: () => boolean): Promise<Agent> {
    const s = await LineSocket.connect(path, 10_000, alive);
    const { match } = await s.nextMatch(/^@@READY (\S+)$/, bootTimeoutMs, 'guest boot (agent ready)');
    return new Agent(s, match[1]!);
  }

  async request(verb: string, arg = '', timeoutMs = 60_000): Promise<AgentReply> {
    const id = this.nextId++;
    if (/[\n\r]/.test(arg)) throw new Error('agent request arguments are one line');
    this.s.write(`${id} ${verb}${arg ? ` ${arg}` : ''}\n`);
    const { before, match } = await this.s.nextMatch(new RegExp(`^@@END ${id} ?(.*)$`), timeoutMs, `agent ${verb}`);
    return { status: match[1]!.trim() || 'failed', body: before };
  }

  close(): void {
    this.s.close();
  }
}
