import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CmdlineError, kstrtobool, memparse, parseCmdline, tokenizeCmdline } from '../src/params/cmdline.js';
import { describeParams } from '../src/params/describe.js';
import { initialKnobs, runtimeKnobSpecs, writeKnob, type KnobContext } from '../src/params/runtime.js';
import type { KernelVersion } from '../src/kernel/version.js';
import { tinyX86 } from './support/tiny-backends.js';

const MiB = 1n << 20n;
const GiB = 1n << 30n;
const ctx = (kernel: KernelVersion = '6.18') => ({ kernel, archParams: tinyX86.features, hugepageSizes: [2n * MiB, GiB], structPageBytes: 64 });
const parse = (s: string, kernel: KernelVersion = '6.18') => parseCmdline(s, ctx(kernel));

describe('tokenising (lib/cmdline.c next_arg)', () => {
  it('splits on whitespace, keeps quoted spaces, and drops the quotes around a value', () => {
    const { args } = tokenizeCmdline('  root=/dev/vda  console="ttyS0 115200"  "quoted=a b" quiet ');
    expect(args.map((a) => [a.name, a.value])).toEqual([
      ['root', '/dev/vda'],
      ['console', 'ttyS0 115200'],
      ['quoted', 'a b'],
      ['quiet', null],
    ]);
  });

  it('hands everything after a lone "--" to init', () => {
    const { args, init } = tokenizeCmdline('movable_node -- single memhp_default_state=online');
    expect(args.map((a) => a.name)).toEqual(['movable_node']);
    expect(init).toEqual(['single', 'memhp_default_state=online']);
    expect(parse('-- memhp_default_state=online').params.memhpDefaultState).toBe('offline');
  });
});

describe('kernel value syntaxes', () => {
  it('kstrtobool takes the first letter (y/t/1, n/f/0) or on/off (lib/kstrtox.c)', () => {
    expect(['y', 'Yes', 't', '1', 'on', 'ON'].map(kstrtobool)).toEqual([true, true, true, true, true, true]);
    expect(['n', 'No', 'f', '0', 'off', 'oFF'].map(kstrtobool)).toEqual([false, false, false, false, false, false]);
    expect(['', 'o', '2', 'maybe', null].map(kstrtobool)).toEqual([null, null, null, null, null]);
  });

  it('memparse reads base-0 numbers with K/M/G/T/P/E suffixes (lib/cmdline.c)', () => {
    expect(memparse('4G')).toBe(4n * GiB);
    expect(memparse('512m')).toBe(512n * MiB);
    expect(memparse('0x1000')).toBe(4096n);
    expect(memparse('010')).toBe(8n); // a leading 0 is octal (simple_strtoull base 0)
    expect(memparse('2Q')).toBeNull();
  });
});

describe('parseCmdline', () => {
  it('gives the kernel defaults for an empty line (apps/docs/kernel/knobs.md#cmdline)', () => {
    const { params, warnings } = parse('');
    expect(params).toMatchObject({
      memmapOnMemory: 'off',
      memhpDefaultState: 'offline',
      movableNode: false,
      onlinePolicy: 'contig-zones',
      autoMovableRatio: 301,
      autoMovableNumaAware: true,
      hugetlbFreeVmemmap: false,
    });
    expect(warnings).toEqual([]);
  });

  it('parses the memory-hotplug parameters, with - and _ equivalent in names and the last occurrence winning', () => {
    const { params } = parse(
      'memory-hotplug.memmap_on_memory=1 memhp_default_state=online_movable movable_node memory_hotplug.online_policy=auto-movable memory_hotplug.auto_movable_ratio=100 memory_hotplug.auto_movable_numa_aware=n memhp_default_state=online',
    );
    expect(params).toMatchObject({
      memmapOnMemory: 'on',
      memhpDefaultState: 'online',
      movableNode: true,
      onlinePolicy: 'auto-movable',
      autoMovableRatio: 100,
      autoMovableNumaAware: false,
    });
  });

  it('accepts memmap_on_memory=force from 6.6; before, kstrtobool reads the leading "f" as false and says so', () => {
    expect(parse('memory_hotplug.memmap_on_memory=force', '6.6').params.memmapOnMemory).toBe('force');
    const r = parse('memory_hotplug.memmap_on_memory=force', '6.1');
    expect(r.params.memmapOnMemory).toBe('off'); // lib/kstrtox.c: 'f' → false
    expect(r.warnings[0]).toMatch(/exists only from 6\.6/);
  });

  it('refuses a value that is not a kernel boolean, naming the parameter, the value and what is allowed', () => {
    try {
      parse('memory_hotplug.memmap_on_memory=maybe', '6.1');
      expect.unreachable();
    } catch (e) {
      const err = e as CmdlineError;
      expect(err).toBeInstanceOf(CmdlineError);
      expect(err.param).toBe('memory_hotplug.memmap_on_memory');
      expect(err.value).toBe('maybe');
      expect(err.allowed).toMatch(/y, n, 1, 0, on, off/);
      expect(err.allowed).not.toMatch(/force/);
      expect(err.message).toMatch(/"memory_hotplug\.memmap_on_memory=maybe".*allowed/);
    }
    expect(() => parse('memory_hotplug.memmap_on_memory=maybe', '6.6')).toThrow(/or force/);
  });

  it('treats a bare memmap_on_memory as Y up to 6.5 (param_set_bool) and refuses it from 6.6 (kstrtobool(NULL))', () => {
    expect(parse('memory_hotplug.memmap_on_memory', '6.1').params.memmapOnMemory).toBe('on');
    expect(() => parse('memory_hotplug.memmap_on_memory', '6.8')).toThrow(/needs a value since 6\.6/);
  });

  it('ignores an invalid memhp_default_state with a warning that the kernel is lenient', () => {
    const { params, warnings } = parse('memhp_default_state=onlien');
    expect(params.memhpDefaultState).toBe('offline');
    expect(warnings[0]).toMatch(/"memhp_default_state=onlien" ignored.*offline, online, online_kernel, online_movable.*lenient/);
  });

  it('keeps memmap_on_memory off in 5.19 when hugetlb_free_vmemmap is on (apps/docs/kernel/memmap-on-memory.md#support)', () => {
    const r = parse('memory_hotplug.memmap_on_memory=1 hugetlb_free_vmemmap=on', '5.19');
    expect(r.params.memmapOnMemory).toBe('off');
    expect(r.params.hugetlbFreeVmemmap).toBe(true);
    expect(r.warnings.join()).toMatch(/takes precedence/);
    expect(parse('memory_hotplug.memmap_on_memory=1 hugetlb_free_vmemmap=on', '6.1').params.memmapOnMemory).toBe('on');
  });

  it('parses hugetlb_free_vmemmap= as on/off in 5.14–5.18 and as a kernel boolean from 5.19', () => {
    expect(() => parse('hugetlb_free_vmemmap=1', '5.14')).toThrow(/on, off/);
    expect(parse('hugetlb_free_vmemmap=1', '5.19').params.hugetlbFreeVmemmap).toBe(true);
    const r = parseCmdline('hugetlb_free_vmemmap=on', { ...ctx('6.1'), structPageBytes: 56 });
    expect(r.params.hugetlbFreeVmemmap).toBe(false); // apps/docs/kernel/hvo.md#conditions item 3: struct page not a power of two
  });

  it('reads hugepagesz=/hugepages= pairs, per-node counts and default_hugepagesz (mm/hugetlb.c)', () => {
    const { params } = parse('default_hugepagesz=1G hugepages=4 hugepagesz=2M hugepages=0:10,1:6 hugepagesz=1G hugepages=2');
    expect(params.defaultHugepageBytes).toBe(GiB);
    expect(params.hugepages).toEqual([
      { sizeBytes: null, count: 4 },
      { sizeBytes: 2n * MiB, count: 16, perNode: { 0: 10, 1: 6 } },
      { sizeBytes: GiB, count: 2 },
    ]);
  });

  it('warns and skips hugepages= after an unsupported hugepagesz=, as the kernel does', () => {
    const { params, warnings } = parse('hugepagesz=4M hugepages=3 hugepages=5');
    expect(params.hugepages).toEqual([{ sizeBytes: null, count: 5 }]);
    expect(warnings[0]).toMatch(/unsupported huge page size \(allowed: 2M, 1G\)/);
    expect(warnings[1]).toMatch(/does not follow a valid hugepagesz/);
  });

  it('reads mem= as a size and passes kernelcore=/movablecore= through after checking them', () => {
    const { params } = parse('mem=16G kernelcore=50% movablecore=4G');
    expect(params.memLimitBytes).toBe(16n * GiB);
    expect(params.passthrough).toEqual(['kernelcore=50%', 'movablecore=4G']);
    expect(() => parse('mem=lots')).toThrow(/"mem=lots": not a size/);
  });

  it("takes the backend's own parameters from its ParamSpecs", () => {
    expect(parse('pse=0').params.arch).toEqual({ pse: false });
    expect(() => parse('pse=maybe')).toThrow(CmdlineError);
  });

  it('refuses an unknown memory_hotplug parameter and lists the ones that exist for the kernel', () => {
    expect(() => parse('memory_hotplug.memap_on_memory=1')).toThrow(/allowed: memory_hotplug\.memmap_on_memory, memory_hotplug\.online_policy/);
  });

  it('warns (the kernel passes unknown words to init) for parameters it does not model', () => {
    const { params, warnings } = parse('quiet foo=bar BOOT_IMAGE=/vmlinuz');
    expect(params.passthrough).toEqual(['quiet', 'foo=bar', 'BOOT_IMAGE=/vmlinuz']);
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatch(/environment variable \(lenient\)/);
  });

  it('warns for memory-hotplug parameters that the chosen kernel does not have yet', () => {
    const r = parse('memory_hotplug.online_policy=auto-movable memory_hotplug.memmap_on_memory=1', '5.10');
    expect(r.params.onlinePolicy).toBe('contig-zones');
    expect(r.params.memmapOnMemory).toBe('off');
    expect(r.warnings).toHaveLength(2);
  });

  it('never throws anything but CmdlineError, whatever the line', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('memhp_default_state=', 'hugepages=', 'memory_hotplug.auto_movable_ratio=', 'mem=', 'x', '"', ' ', '1', 'G', ':', ',', 'force', 'on')), (parts) => {
        try {
          parse(parts.join(''));
        } catch (e) {
          expect(e).toBeInstanceOf(CmdlineError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('runtime knobs (apps/docs/kernel/knobs.md#runtime)', () => {
  const kctx = (kernel: KernelVersion, cmdline = '', structPageBytes = 64): KnobContext => ({
    kernel,
    params: parse(cmdline, kernel).params,
    structPageBytes,
  });

  it('refuses writes to the read-only memmap_on_memory with -EACCES (mode 0444)', () => {
    const c = kctx('6.1');
    const r = writeKnob(initialKnobs(c), c, '/sys/module/memory_hotplug/parameters/memmap_on_memory', 'Y');
    expect(r).toMatchObject({ ok: false, errno: 'EACCES' });
  });

  it('changes online_policy and auto_movable_ratio (0644) and refuses bad values with -EINVAL / -ERANGE', () => {
    const c = kctx('6.1');
    const k0 = initialKnobs(c);
    const r1 = writeKnob(k0, c, 'memory_hotplug.online_policy', 'auto-movable\n');
    expect(r1.ok && r1.knobs.onlinePolicy).toBe('auto-movable');
    expect(writeKnob(k0, c, 'memory_hotplug.online_policy', 'zigzag')).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(writeKnob(k0, c, 'memory_hotplug.auto_movable_ratio', '99999999999')).toMatchObject({ ok: false, errno: 'ERANGE' });
    const r2 = writeKnob(k0, c, 'auto_online_blocks', 'online_kernel');
    expect(r2.ok && r2.knobs.autoOnlineBlocks).toBe('online_kernel');
  });

  it('registers vm.hugetlb_optimize_vmemmap only from 5.19, only for a power-of-two struct page, and in 5.19 only without memmap_on_memory', () => {
    const has = (c: KnobContext) => runtimeKnobSpecs(c).some((s) => s.name === 'vm.hugetlb_optimize_vmemmap');
    expect(has(kctx('5.18'))).toBe(false);
    expect(has(kctx('5.19'))).toBe(true);
    expect(has(kctx('5.19', 'memory_hotplug.memmap_on_memory=1'))).toBe(false);
    expect(has(kctx('6.1', 'memory_hotplug.memmap_on_memory=1'))).toBe(true);
    expect(has(kctx('6.18', '', 56))).toBe(false);
    const c = kctx('6.18', '', 56);
    expect(writeKnob(initialKnobs(c), c, 'vm.hugetlb_optimize_vmemmap', '1')).toMatchObject({ ok: false, errno: 'ENOENT' });
  });
});

describe('describeParams', () => {
  it('lists every parameter with default and allowed values, marking what the kernel lacks', () => {
    const d61 = describeParams('6.1', tinyX86);
    const mom = d61.find((p) => p.name === 'memory_hotplug.memmap_on_memory');
    expect(mom).toMatchObject({ default: 'N', exists: true, runtime: { mode: '0444' } });
    expect(mom?.allowed).not.toMatch(/force/);
    expect(describeParams('6.6').find((p) => p.name === 'memory_hotplug.memmap_on_memory')?.allowed).toMatch(/force/);
    expect(describeParams('5.10').find((p) => p.name === 'memory_hotplug.online_policy')?.exists).toBe(false);
    expect(d61.find((p) => p.name === 'memory_hotplug.auto_movable_ratio')?.default).toBe('301'); // apps/docs/kernel/knobs.md#cmdline
    expect(d61.find((p) => p.name === 'pse')?.origin).toBe('x86_64');
  });
});
