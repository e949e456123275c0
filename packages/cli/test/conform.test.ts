/**
 * `memhp conform` against a real kernel: Debian 12's 6.1 (downloaded with apt-get download into the user's
 * cache on first use, ~70 MB) booted under QEMU (TCG here; KVM where it works). One guest boot runs a 128 MiB DIMM
 * through plug → online movable → offline → unplug on the memoryless node 1 and compares every step with the
 * model. Cost: one boot (~10–30 s under TCG on 2 cores) plus the steps; the first run also downloads the kernel.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasStack, memhp, memhpInProcess, REPO, tmp } from './helpers.js';

const SCENARIOS = join(REPO, 'packages/conformance/scenarios');

interface Row {
  field: string;
  kernel: string;
  memhp: string;
  verdict: string;
}
interface Step {
  index: number | null;
  label: string;
  status: string;
  errno: { kernel: string; memhp: string } | null;
  rows: Row[];
}

const canRun = existsSync('/usr/bin/qemu-system-x86_64') && existsSync('/usr/bin/busybox') && existsSync('/usr/bin/apt-get');

describe.runIf(canRun)('memhp conform on a real 6.1 kernel (one QEMU boot)', () => {
  it('plugs, onlines, offlines and unplugs a 128 MiB DIMM on node 1 and agrees with the model on every exact field', { timeout: 900_000 }, async () => {
    const save = tmp();
    const t0 = Date.now();
    const r = await memhp(['conform', join(SCENARIOS, 'dimm-128m-movable.yaml'), '--kernel', 'debian:6.1', '--json', '--save', save]);
    const seconds = (Date.now() - t0) / 1000;
    process.stderr.write(`memhp conform (one boot, 4 steps): ${seconds.toFixed(1)} s\n`);
    expect(r.stderr).toBe('');
    const [res] = JSON.parse(r.stdout) as [{ kernel: { version: string; release: string }; steps: Step[]; unexplained: number; counts: Record<string, number> }];
    expect(res.kernel.version).toMatch(/^6\.1\.\d+$/);
    expect(res.steps.map((s) => s.status)).toEqual(['compared', 'compared', 'compared', 'compared', 'compared']);
    const row = (step: number, field: string): Row => {
      const x = res.steps[step]!.rows.find((y) => y.field === field);
      if (!x) throw new Error(`no ${field} in step ${step}`);
      return x;
    };
    // QEMU places the DIMM at 4 GiB (device memory starts at ALIGN_UP(4 GiB + RAM above 4 GiB, 1 GiB), hw/i386/pc.c):
    // block 32 of 128 MiB (memory block = 128 MiB on x86-64 below 64 GiB, arch/x86/mm/init_64.c probe_memory_block_size).
    expect(row(1, 'memory.blocks')).toMatchObject({ kernel: '0-15,32', memhp: '0-15,32', verdict: 'equal' });
    expect(row(1, 'memory32.state')).toMatchObject({ kernel: 'offline', verdict: 'equal' });
    expect(row(1, 'memory32.node')).toMatchObject({ kernel: '1', verdict: 'equal' });
    expect(row(2, 'memory32.valid_zones')).toMatchObject({ kernel: 'Movable', verdict: 'equal' });
    expect(row(2, 'zoneinfo.node1/Movable.present')).toMatchObject({ kernel: '32768', memhp: '32768', verdict: 'equal' });
    expect(row(2, 'node.has_memory')).toMatchObject({ kernel: '0-1', verdict: 'equal' });
    expect(row(4, 'memory.blocks')).toMatchObject({ kernel: '0-15', verdict: 'equal' });
    for (const s of res.steps.slice(1)) expect(s.errno).toEqual({ kernel: 'ok', memhp: 'ok' });
    // Onlining 128 MiB adds 131072 kB to MemTotal on both (a measured reading of the real guest, here re-read).
    const before = Number(row(1, 'meminfo.MemTotal').kernel);
    expect(Number(row(2, 'meminfo.MemTotal').kernel) - before).toBe(131072);
    expect(Number(row(2, 'meminfo.MemTotal').memhp) - Number(row(1, 'meminfo.MemTotal').memhp)).toBe(131072);
    expect(res.unexplained).toBe(0);
    expect(res.counts.equal).toBeGreaterThan(500);
    expect(r.code).toBe(0);
    const fixture = JSON.parse(readFileSync(join(save, 'debian-6.1', 'dimm-128m-movable.json'), 'utf8')) as { steps: Step[] };
    expect(fixture.steps).toHaveLength(5);
  });
});

describe('the conformance scenarios', () => {
  it('all load as scenarios and every step has a real counterpart', async () => {
    const { loadScenarioFile } = await import('../src/scenario/load.js');
    const { notComparable } = await import('@memhp/conformance');
    const files = readdirSync(SCENARIOS).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const f of files) {
      const sc = loadScenarioFile(join(SCENARIOS, f));
      for (const st of sc.steps) if (st.kind === 'command') for (const c of st.commands) expect(notComparable(c), `${f}: ${st.label}`).toBeNull();
    }
  });
});

describe('memhp conform: bad input', () => {
  it('refuses a known-differences file with a bad entry, naming the file and the entry, exit 2', async () => {
    const bad = join(tmp(), 'known.yaml');
    writeFileSync(bad, '- scenario: dimm-1g-kernel\n  fields: "(unclosed"\n  why: because\n');
    const r = await memhpInProcess(['conform', join(SCENARIOS, 'boot-two-nodes.yaml'), '--kernel', 'debian:6.1', '--known', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/known\.yaml.*\[0\]\.fields.*not a regular expression/);
  });

  it('refuses a kernel spec no Debian ships with exit 2, naming the option', async () => {
    const r = await memhpInProcess(['conform', join(SCENARIOS, 'boot-two-nodes.yaml'), '--kernel', 'debian:5.4']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--kernel.*no Debian release ships kernel 5\.4/);
    expect(hasStack(r.stderr)).toBe(false);
  });

  it('refuses a missing kernel image and --modules without --kernel-image with exit 2', async () => {
    const a = await memhpInProcess(['conform', join(SCENARIOS, 'boot-two-nodes.yaml'), '--kernel-image', '/nonexistent/bzImage']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/--kernel-image.*no such kernel image/);
    const b = await memhpInProcess(['conform', join(SCENARIOS, 'boot-two-nodes.yaml'), '--kernel', 'debian:6.1', '--modules', '/tmp']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/--modules goes with --kernel-image/);
  });

  it('reads every scenario before booting: a bad step is located by file and line, exit 2', async () => {
    const bad = join(tmp(), 'bad.yaml');
    writeFileSync(bad, 'memhp: 1\nmachine:\n  arch: x86_64\n  nodes: [{ id: 0, memory: [{ start: 0, size: 2G }] }]\nsteps:\n  - plug_dimm: { id: d1, node: 0 }\n');
    const t0 = Date.now();
    const r = await memhpInProcess(['conform', join(SCENARIOS, 'boot-two-nodes.yaml'), bad, '--kernel', 'debian:6.1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:6:\d+: field steps\[0\]\.plug_dimm\.size/);
    // No guest was booted for the first scenario: a boot takes seconds, reading two files does not.
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
