/**
 * Sweeps and logs through a real nats-server (Debian's 2.9, JetStream, file store), started by each test on a
 * random loopback port and stopped by its PID (issue 20). Fault tests: a worker killed with SIGKILL mid-point,
 * nats-server restarted mid-sweep, a poison point, and bad URLs / an unreachable server / a missing stream.
 * Cost: about 110-140 s on the 2-core CI machine, mostly CLI processes starting from src (the --logs test adds
 * ~10 s: two sweeps of 6 points and 36 in-process replays; each Ctrl-C test 15-25 s); every wait is bounded.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { NatsServer } from '@memhp/fleet';
import { JOBS_STREAM, fetchPointLog, freePort, listPointLogs, openNats } from '@memhp/fleet';
import { FIXTURES, hasStack, memhp, memhpInProcess } from './helpers.js';
import { BUGGY_ARCH, SWEEPS, csv, holdingProxy, jsonl, natsServer, start, stop, tmpDir, type Proc } from './sweep-helpers.js';

const SMALL = join(SWEEPS, 'small.yaml');
const SLOW = join(SWEEPS, 'slow.yaml');

let server: NatsServer | undefined;
const procs: Proc[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => stop(p, 'SIGKILL')));
  await server?.stop('SIGKILL');
  server = undefined;
});
const worker = (...extra: string[]): Proc => {
  const p = start([...extra, 'worker', '--nats', server!.url]);
  procs.push(p);
  return p;
};

/** A sweep of 60 quick points (bad-point.yaml with 60 good block numbers): a worker keeps one queued behind the one it runs. */
function quickSweep(): string {
  const file = join(tmpDir(), 'quick.yaml');
  const blocks = Array.from({ length: 60 }, (_, i) => `"${32 + i}"`);
  writeFileSync(file, readFileSync(join(SWEEPS, 'bad-point.yaml'), 'utf8').replace('["32", "banana"]', `[${blocks.join(', ')}]`));
  return file;
}
/** The labels of the points a worker logged as `memhp worker: <what> <label>` on its stderr. */
const labels = (p: Proc, what: string): string[] => [...p.stderr().matchAll(new RegExp(`memhp worker: ${what} (\\S+)`, 'g'))].map((m) => m[1]!);

describe('memhp sweep --nats', { timeout: 300_000 }, () => {
  it('two workers give the table the local pool gives (one of them configured by a nats CLI context file)', async () => {
    server = await natsServer();
    worker();
    const ctx = join(tmpDir(), 'ctx.json');
    writeFileSync(ctx, JSON.stringify({ url: server.url }));
    procs.push(start(['worker', '--context', ctx]));
    const viaNats = tmpDir();
    const local = tmpDir();
    const a = await memhp(['sweep', SMALL, '-o', viaNats, '--nats', server.url]);
    const b = await memhp(['sweep', SMALL, '-o', local, '--jobs', '2']);
    expect(a.stderr).toBe('');
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(jsonl(viaNats)).toHaveLength(6);
    expect(csv(viaNats)).toBe(csv(local));
  });

  it('redelivers the point of a worker killed with SIGKILL mid-point, and counts it once', async () => {
    server = await natsServer();
    const first = worker();
    const out = tmpDir();
    const sweep = start(['sweep', SLOW, '-o', out, '--nats', server.url, '--ack-wait', '2000']);
    procs.push(sweep);
    await first.waitFor(/memhp worker: start (size=\S+)/);
    const label = /memhp worker: start (size=\S+)/.exec(first.stderr())![1]!;
    first.child.kill('SIGKILL');
    await first.exited;
    expect(first.stderr()).not.toMatch(/memhp worker: done/);
    const second = worker();
    expect(await sweep.exited).toBe(0);
    const rows = jsonl(out);
    expect(rows.map((r) => r.label).sort()).toEqual(['size=3T', 'size=4T']);
    expect(rows.every((r) => r.status === 'ok')).toBe(true);
    // The killed worker's point ran again on the second worker (after the 2 s ack wait), once in the table.
    expect(second.stderr()).toContain(`memhp worker: done ${label}`);
  });

  it('a worker killed with SIGKILL while holding quick points (typically one running, one queued behind it) loses none: they are redelivered and each counted once', async () => {
    server = await natsServer();
    const first = worker();
    // 60 quick points: the worker keeps the next point queued in its child while one runs.
    const file = quickSweep();
    const out = tmpDir();
    const sweep = start(['sweep', file, '-o', out, '--nats', server.url, '--ack-wait', '2000']);
    procs.push(sweep);
    await first.waitFor(/memhp worker: done .*\n(.|\n)*memhp worker: done /);
    first.child.kill('SIGKILL');
    await first.exited;
    const lost = labels(first, 'start').filter((l) => !labels(first, 'done').includes(l));
    const second = worker();
    expect(await sweep.exited).toBe(0);
    const rows = jsonl(out);
    expect(rows).toHaveLength(60);
    expect(new Set(rows.map((r) => r.label)).size).toBe(60);
    // What the killed worker held and never finished ran again on the second worker.
    expect(lost.length).toBeGreaterThan(0);
    for (const l of lost) expect(labels(second, 'done')).toContain(l);
    const local = tmpDir();
    expect((await memhp(['sweep', file, '-o', local, '--jobs', '1'])).code).toBe(0);
    expect(csv(out)).toBe(csv(local));
  });

  it('Ctrl-C on a worker holding quick points: it finishes what it holds or gives it back, so the sweep completes on another worker without waiting for the ack wait', async () => {
    server = await natsServer();
    const first = worker();
    const file = quickSweep();
    const out = tmpDir();
    // An ack wait far longer than the test allows: a point not given back would only come back after it.
    const sweep = start(['sweep', file, '-o', out, '--nats', server.url, '--ack-wait', '600000']);
    procs.push(sweep);
    await first.waitFor(/memhp worker: done .*\n(.|\n)*memhp worker: done /);
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    expect(first.stderr()).toMatch(/memhp worker: stopping after the point in flight/);
    // A point queued in the child is given back if the child has not started it when the worker stops.
    const givenBack = [...new Set([...labels(first, 'start').filter((l) => !labels(first, 'done').includes(l)), ...labels(first, 'returned')])];
    const second = worker();
    // The second worker needs a few seconds to start from src and run the rest; 90 s is far from the ack wait.
    const ended = await Promise.race([sweep.exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 90_000).unref())]);
    expect(ended, `given back: ${givenBack.join(' ')}`).toBe(0);
    const rows = jsonl(out);
    expect(rows).toHaveLength(60);
    expect(new Set(rows.map((r) => r.label)).size).toBe(60);
    for (const l of givenBack) expect(labels(second, 'done')).toContain(l);
  });

  it('Ctrl-C on a worker whose request for a point is still on its way to the server: the point that request brings is given back, not left to the ack wait', async () => {
    server = await natsServer();
    // The worker reaches the server through a proxy that holds the worker's bytes from its third request for a
    // point on, until the worker has been told to stop: so that request reaches the server, which answers it
    // with a point, only after the worker began stopping.
    let first: Proc | undefined;
    const proxy = await holdingProxy(server.port, 'CONSUMER.MSG.NEXT.MEMHP_JOBS', 3, async () => {
      first!.child.kill('SIGINT');
      await first!.waitFor(/memhp worker: stopping after the point in flight/, 30_000);
      await new Promise((r) => setTimeout(r, 300));
    });
    try {
      first = start(['worker', '--nats', proxy.url]);
      procs.push(first);
      const file = quickSweep();
      const out = tmpDir();
      const sweep = start(['sweep', file, '-o', out, '--nats', server.url, '--ack-wait', '600000']);
      procs.push(sweep);
      expect(await first.exited).toBe(0);
      const second = worker();
      const ended = await Promise.race([sweep.exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 90_000).unref())]);
      expect(ended, first.stderr()).toBe(0);
      expect(jsonl(out)).toHaveLength(60);
      // The point the held request brought was given back (and any queued in its child), and ran on the second.
      const returned = labels(first, 'returned');
      expect(returned.length, first.stderr()).toBeGreaterThan(0);
      for (const l of returned) expect(labels(second, 'done')).toContain(l);
    } finally {
      proxy.close();
    }
  });

  it('keeps a point longer than the ack wait from being redelivered while its worker sends heartbeats', async () => {
    server = await natsServer();
    // Three workers for two points: the idle one would take a point redelivered while it still runs elsewhere.
    const ws = [worker(), worker(), worker()];
    const out = tmpDir();
    // Each point of slow.yaml runs for seconds; the ack wait is 1 s, so only working() keeps it delivered once.
    const r = await memhp(['sweep', SLOW, '-o', out, '--nats', server.url, '--ack-wait', '1000']);
    expect(r.code).toBe(0);
    expect(jsonl(out)).toHaveLength(2);
    await Promise.all(ws.map((w) => stop(w)));
    expect(ws.flatMap((w) => w.stderr().match(/memhp worker: start /g) ?? [])).toHaveLength(2);
  });

  it('completes with nothing lost or duplicated when nats-server restarts mid-sweep', async () => {
    server = await natsServer();
    const w = worker();
    const out = tmpDir();
    const sweep = start(['sweep', SLOW, '-o', out, '--nats', server.url, '--ack-wait', '3000']);
    procs.push(sweep);
    await w.waitFor(/memhp worker: start/);
    await server.stop('SIGTERM');
    await new Promise((r) => setTimeout(r, 1000));
    await server.start();
    expect(await sweep.exited).toBe(0);
    const rows = jsonl(out);
    expect(rows.map((r) => r.label).sort()).toEqual(['size=3T', 'size=4T']);
    expect(rows.every((r) => r.status === 'ok')).toBe(true);
  });

  it('dead-letters a poison point after --max-deliveries with its error message, as an error row', async () => {
    server = await natsServer();
    worker('--arch-module', BUGGY_ARCH);
    worker('--arch-module', BUGGY_ARCH);
    const out = tmpDir();
    const r = await memhp(['sweep', join(SWEEPS, 'poison.yaml'), '-o', out, '--nats', server.url, '--max-deliveries', '2']);
    expect(r.code).toBe(0);
    const rows = jsonl(out);
    expect(rows.map((x) => [x.label, x.status])).toEqual([
      ['arch=x86_64', 'ok'],
      ['arch=buggy_x86', 'dead'],
    ]);
    expect(rows[1]!.error).toMatch(/dead-lettered after 2 deliveries: .*buggy_x86: vmemmap_populate exploded/);
  });

  it('refuses a sweep whose bad point comes after the first published chunk: exit 2 at its place, no job left queued, the last table kept', async () => {
    server = await natsServer();
    worker();
    // 69 good points (the online step loads whatever block it names) and a bad one last: the sweep checks and
    // publishes 8, then 64 points at a time, so workers start on the first chunks before the bad point is checked.
    const dir = tmpDir();
    const file = join(dir, 'late-bad.yaml');
    const blocks = [...Array.from({ length: 69 }, (_, i) => `"${32 + i}"`), '"banana"'];
    writeFileSync(file, readFileSync(join(SWEEPS, 'bad-point.yaml'), 'utf8').replace('["32", "banana"]', `[${blocks.join(', ')}]`));
    const out = tmpDir();
    writeFileSync(join(out, 'results.csv'), 'the last table\n');
    const r = await memhp(['sweep', file, '-o', out, '--nats', server.url]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/late-bad\.yaml:13:\d+: field steps\[1\]\.online\.blocks: point 70 \(blocks=banana\): not a block list/);
    expect(hasStack(r.stderr)).toBe(false);
    expect(readFileSync(join(out, 'results.csv'), 'utf8')).toBe('the last table\n');
    const s = await openNats({ url: server.url });
    try {
      expect((await s.jsm.streams.info(JOBS_STREAM)).state.messages).toBe(0);
    } finally {
      await s.close();
    }
  });

  it('refuses bad URLs, an unreachable server and a missing stream with exit 2, within bounded waits', async () => {
    const t0 = Date.now();
    const port = await freePort(); // nothing listens there
    const cases: Array<[string[], RegExp]> = [
      [['sweep', SMALL, '-o', tmpDir(), '--nats', 'http://127.0.0.1:4222'], /--nats: "http:\/\/127\.0\.0\.1:4222": the scheme is nats:\/\/ or tls:\/\//],
      [['sweep', SMALL, '-o', tmpDir(), '--nats', 'nats://'], /--nats: "nats:\/\/" names no host|not a URL/],
      [['sweep', SMALL, '-o', tmpDir(), '--nats', `nats://127.0.0.1:${port}`], /cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+/],
      [['worker', '--nats', `nats://127.0.0.1:${port}`], /cannot connect to NATS/],
      [['worker', '--context', '/nonexistent/ctx.json'], /\/nonexistent\/ctx\.json: field --context: no such context file/],
      [['replay', `nats://127.0.0.1:${port}/LOGS`], /a log on JetStream is nats:\/\/HOST:PORT\/STREAM\/SUBJECT/],
      [['replay', `nats://127.0.0.1:${port}/LOGS/run.a`], /cannot connect to NATS/],
    ];
    for (const [args, re] of cases) {
      const r = await memhpInProcess(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(hasStack(r.stderr)).toBe(false);
    }
    server = await natsServer();
    const missing = await memhpInProcess(['replay', `${server.url}/NOSUCH/run.a`]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no stream NOSUCH/);
    // Each connection attempt is bounded by a 5 s timeout and refused ones fail at once; the rest is process
    // start-up on a loaded machine, so the bound here is generous but finite.
    expect(Date.now() - t0).toBeLessThan(120_000);
  });
});

describe('logs on JetStream', { timeout: 300_000 }, () => {
  it('--logs through NATS: each worker puts its point log in the object store, and the fetched log replays as the local one', async () => {
    server = await natsServer();
    worker();
    const [viaNats, natsLogs, local, localLogs] = [tmpDir(), tmpDir(), tmpDir(), tmpDir()];
    const a = await memhp(['sweep', SMALL, '-o', viaNats, '--nats', server.url, '--logs', natsLogs]);
    expect([a.code, a.stderr]).toEqual([0, '']);
    expect((await memhp(['sweep', SMALL, '-o', local, '--jobs', '1', '--logs', localLogs])).code).toBe(0);
    const ids = jsonl(viaNats).map((r) => String(r.point));
    expect(ids).toHaveLength(6);
    expect(readdirSync(natsLogs).sort()).toEqual(ids.map((id) => `${id}.ndjson`).sort());
    // What the sweep wrote is what the object store holds (one object per point of the sweep).
    const stored = await listPointLogs({ url: server.url });
    expect(stored).toHaveLength(6);
    for (const { name } of stored) {
      const id = basename(name, '.ndjson');
      expect(ids).toContain(id);
      const blob = await fetchPointLog({ url: server.url }, name);
      expect(blob && Buffer.from(blob).equals(readFileSync(join(natsLogs, `${id}.ndjson`)))).toBe(true);
    }
    for (const id of ids) {
      for (const report of ['summary', 'blocks', 'vmstat']) {
        const [f, n] = [await memhpInProcess(['replay', join(localLogs, `${id}.ndjson`), '--report', report]), await memhpInProcess(['replay', join(natsLogs, `${id}.ndjson`), '--report', report])];
        expect(n.code, `${id} ${report}`).toBe(0);
        expect(n.stdout.length).toBeGreaterThan(0);
        expect(n.stdout, `${id} ${report}`).toBe(f.stdout);
      }
    }
  });

  it('replays, diffs, exports and queries a log from JetStream byte for byte as from its file', async () => {
    server = await natsServer();
    const scenario = join(FIXTURES, '../../../../examples/scenarios/cloud-hot-add-12g.yaml');
    const dir = tmpDir();
    const file = join(dir, 'run.ndjson');
    const url = `${server.url}/LOGS/cloud.run1`;
    const a = await memhpInProcess(['run', scenario, '-o', file]);
    const b = await memhpInProcess(['run', scenario, '-o', url]);
    expect([a.code, b.code]).toEqual([0, 0]);
    for (const report of ['summary', 'sections', 'blocks', 'meminfo', 'vmstat', 'zoneinfo', 'timeline', 'final']) {
      const [f, n] = [await memhpInProcess(['replay', file, '--report', report]), await memhpInProcess(['replay', url, '--report', report])];
      expect(n.code, report).toBe(0);
      expect(n.stdout, report).toBe(f.stdout);
      expect(n.stdout.length).toBeGreaterThan(0);
    }
    const diff = await memhpInProcess(['diff', file, url]);
    expect(diff.code).toBe(0);
    const [qf, qn] = [await memhpInProcess(['query', file, 'select type, count(*) n from events group by type order by type']), await memhpInProcess(['query', url, 'select type, count(*) n from events group by type order by type'])];
    expect(qn.stdout).toBe(qf.stdout);
    const [ef, en] = [join(dir, 'f.json'), join(dir, 'n.json')];
    expect((await memhpInProcess(['export', file, '--format', 'chrome-trace', '-o', ef])).code).toBe(0);
    expect((await memhpInProcess(['export', url, '--format', 'chrome-trace', '-o', en])).code).toBe(0);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(en, 'utf8')).toBe(readFileSync(ef, 'utf8'));
    // The subject holds one log: recording to it again is refused rather than appended.
    const again = await memhpInProcess(['run', scenario, '-o', url]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already holds a log/);
  });
});
