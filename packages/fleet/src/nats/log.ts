/**
 * Event logs on JetStream: `nats://HOST:PORT/STREAM/SUBJECT`. The log's bytes are exactly a file log's — the
 * header line, then one event per line — cut on line boundaries into messages of at most CHUNK_BYTES on
 * SUBJECT of STREAM (file storage). Each message has a message id (`SUBJECT#n`), so a publish retried after a
 * lost acknowledgement is stored once. Reading concatenates the subject's messages in stream order and hands
 * them to the same log reader a file goes through, so every report is byte-for-byte the same.
 */
import { serializeEvent, serializeHeader, type EventBus, type EventEnvelope, type LogHeader } from '@memhp/events';
import type { LogWriter } from '@memhp/events/node';
import { DeliverPolicy, RetentionPolicy, StorageType, type PubAck } from '@nats-io/jetstream';
import { FleetInputError } from '../errors.js';
import { describe, openNats, parseLogUrl, sleep, type NatsOptions, type NatsSession } from './connect.js';

/** Under the server's default max_payload (1 MiB) with room for headers. */
export const CHUNK_BYTES = 512 * 1024;
const MAX_IN_FLIGHT = 32;

const notFound = (e: unknown): boolean => /not found/i.test(describe(e));

export async function openNatsLogWriter(url: string, header: LogHeader, o: Omit<NatsOptions, 'url'> = {}): Promise<LogWriter> {
  const at = parseLogUrl(url, '--output');
  const s = await openNats({ ...o, url: at.server, name: 'memhp run' });
  try {
    let info;
    try {
      info = await s.jsm.streams.info(at.stream);
    } catch (e) {
      if (!notFound(e)) throw e;
      info = await s.jsm.streams.add({ name: at.stream, subjects: [at.subject], storage: StorageType.File, retention: RetentionPolicy.Limits });
    }
    if (!info.config.subjects?.some((p) => subjectMatches(p, at.subject))) {
      // One stream holds many logs, one per subject: a new subject joins the stream's subjects.
      await s.jsm.streams.update(at.stream, { subjects: [...(info.config.subjects ?? []), at.subject] });
    }
    const last = await s.jsm.streams.getMessage(at.stream, { last_by_subj: at.subject }).catch((e: unknown) => {
      if (notFound(e)) return null;
      throw e;
    });
    if (last) throw new FleetInputError(`${url} already holds a log; record to another subject (or purge it with the nats CLI)`, { field: '--output' });
  } catch (e) {
    await s.close();
    if (e instanceof FleetInputError) throw e;
    throw new FleetInputError(`cannot record to ${url}: ${describe(e)}`, { field: '--output' });
  }
  return new NatsLogWriter(s, at.stream, at.subject, url, header);
}

function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const t = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return t.length > i;
    if (i >= t.length || (p[i] !== '*' && p[i] !== t[i])) return false;
  }
  return p.length === t.length;
}

class NatsLogWriter implements LogWriter {
  #buf: string[] = [];
  #bytes = 0;
  #chunk = 0;
  #written = 0;
  #inFlight: Array<Promise<PubAck>> = [];
  #failed: Error | undefined;
  readonly path: string;
  constructor(
    readonly s: NatsSession,
    readonly stream: string,
    readonly subject: string,
    url: string,
    header: LogHeader,
  ) {
    this.path = url;
    // The header is a message of its own, published once.
    this.#publish(`${serializeHeader(header)}\n`);
  }

  get written(): number {
    return this.#written;
  }

  write(e: EventEnvelope): boolean {
    const line = `${serializeEvent(e)}\n`;
    if (this.#bytes + line.length > CHUNK_BYTES && this.#buf.length) this.#cut();
    this.#buf.push(line);
    this.#bytes += line.length;
    this.#written++;
    return this.#inFlight.length < MAX_IN_FLIGHT;
  }

  attach(bus: EventBus) {
    return bus.on('log-writer', (e) => {
      this.write(e);
    });
  }

  async drained(): Promise<void> {
    while (this.#inFlight.length >= MAX_IN_FLIGHT) await this.#inFlight[0];
  }

  async flush(): Promise<void> {
    if (this.#buf.length) this.#cut();
    await Promise.all(this.#inFlight);
    if (this.#failed) throw this.#failed;
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.s.close();
    }
  }

  #cut(): void {
    this.#publish(this.#buf.join(''));
    this.#buf = [];
    this.#bytes = 0;
  }

  #publish(text: string): void {
    const n = this.#chunk++;
    const data = Buffer.from(text);
    const p = (async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await this.s.js.publish(this.subject, data, { msgID: `${this.subject}#${n}`, expect: { streamName: this.stream } });
        } catch (e) {
          if (attempt >= 20) {
            this.#failed ??= new FleetInputError(`cannot record to ${this.path}: ${describe(e)}`, { field: '--output' });
            throw this.#failed;
          }
          await sleep(250);
        }
      }
    })();
    p.catch(() => {});
    this.#inFlight.push(p);
    void p.finally(() => {
      const i = this.#inFlight.indexOf(p);
      if (i >= 0) this.#inFlight.splice(i, 1);
    }).catch(() => {});
  }
}

/**
 * The bytes of a log on JetStream, message by message in stream order; bounded waits, worded errors (an
 * unreachable server, a missing stream, an empty subject). Give it to the events package's readLogStream.
 */
export async function* natsLogChunks(url: string, o: Omit<NatsOptions, 'url'> = {}): AsyncGenerator<Uint8Array> {
  const at = parseLogUrl(url);
  const s = await openNats({ ...o, url: at.server, name: 'memhp reader' });
  try {
    try {
      await s.jsm.streams.info(at.stream);
    } catch (e) {
      throw new FleetInputError(notFound(e) ? `no stream ${at.stream} on ${at.server}` : `cannot read stream ${at.stream}: ${describe(e)}`);
    }
    const last = await s.jsm.streams.getMessage(at.stream, { last_by_subj: at.subject }).catch((e: unknown) => {
      if (notFound(e)) return null;
      throw new FleetInputError(`cannot read ${url}: ${describe(e)}`);
    });
    if (!last) throw new FleetInputError(`no log on subject ${at.subject} of stream ${at.stream}`);
    const lastSeq = last.seq;
    const c = await s.js.consumers.get(at.stream, { filter_subjects: at.subject, deliver_policy: DeliverPolicy.All });
    const timeoutMs = o.timeoutMs ?? 5000;
    for (;;) {
      const batch = await c.fetch({ max_messages: 64, expires: timeoutMs });
      let got = 0;
      let done = false;
      for await (const m of batch) {
        got++;
        yield m.data;
        if (m.seq >= lastSeq) {
          // The last message of the log: stop here rather than wait out the fetch's expiry.
          done = true;
          break;
        }
      }
      if (done) break;
      if (got === 0) throw new FleetInputError(`${url}: no message within ${timeoutMs} ms before the end of the log`);
    }
  } finally {
    await s.close();
  }
}
