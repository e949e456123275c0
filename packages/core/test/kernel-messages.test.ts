/**
 * memhp's kernel messages against the 6.1 source's format strings (/work/linux-6.1, Debian's 6.1.192) and, where
 * the model follows a later release, that release's: the text after printf formatting, printed as often as the
 * kernel prints it (WARN_ONCE, WARN_ON_ONCE and pr_warn_once sites once per boot).
 */
import { describe, expect, it } from 'vitest';
import { serializeEvent, type EventEnvelope } from '@memhp/events';
import { createSimulator, replayState, type ArchBackend, type Command, type KernelVersion, type MachineConfig } from '../src/index.js';
import { cHex, cHexAlt, cPhysAddr, KERNEL_MESSAGES, kernelMessageOf, normaliseDmesgLine, onceSiteOf } from '../src/kernel/printk.js';
import { testBackend } from './support/test-backend.js';
import { small, GiB, MiB } from './support/machines.js';

function sim(kernel: KernelVersion = '6.1', cmdline = '', backend: ArchBackend = testBackend, cfg: MachineConfig = small(4, kernel, cmdline)) {
  const events: EventEnvelope[] = [];
  const s = createSimulator({ config: cfg, backend, checkInvariants: true, autoBoot: false });
  s.bus.on('t', (e) => events.push(e));
  s.boot();
  const messages = () => events.filter((e) => e.type === 'kernel.warn').map((e) => (e.payload as { message: string }).message);
  const run = (c: Command) => s.exec(c);
  return { s, events, messages, run };
}

const add = (start: bigint, size: bigint, flags: Array<'memmap_on_memory'> = []): Command => ({ kind: 'add_memory', node: 0, range: { startBytes: start, sizeBytes: size }, flags });
const remove = (start: bigint, size: bigint): Command => ({ kind: 'remove_memory', range: { startBytes: start, sizeBytes: size } });
const devdax = (id: string, start: bigint, size: bigint): Command => ({ kind: 'memremap_pages', id, node: 0, range: { startBytes: start, sizeBytes: size }, type: 'devdax' });

describe('printf conversions the messages use', () => {
  it('prints %#lx of 0 as "0" and of anything else with 0x; %lx without a prefix; %pa zero-padded to 16 digits', () => {
    // C99 7.19.6.1: the # flag adds 0x for a nonzero value only; lib/vsprintf.c: %pa is special_hex_number with
    // sizeof(phys_addr_t) * 2 digits and the 0x prefix
    expect([cHexAlt(0), cHexAlt(0x8000000n), cHex(0x8000000n), cPhysAddr(0x7ffffffn)]).toEqual(['0', '0x8000000', '8000000', '0x0000000007ffffff']);
  });
});

describe('kernel messages as dmesg shows them (6.1)', () => {
  it('Misaligned __add_pages: "%#lx" start, a literal "#" and no 0x before the end pfn', () => {
    // mm/memory_hotplug.c __add_pages: WARN(1, "Misaligned %s start: %#lx end: #%lx\n", __func__, pfn, pfn + nr_pages - 1)
    const x = sim();
    expect(x.run(devdax('ns', 0x410000000n, MiB))).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(x.messages()).toEqual(['Misaligned __add_pages start: 0x410000 end: #4100ff']);
  });

  it('check_hotplug_memory_range: pr_err of an add_memory that is not whole memory blocks', () => {
    // mm/memory_hotplug.c check_hotplug_memory_range: pr_err("Block size [%#lx] unaligned hotplug range: start %#llx, size %#llx", …)
    const x = sim();
    expect(x.run(add(8n * GiB, MiB))).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(x.messages()).toEqual(['Block size [0x8000000] unaligned hotplug range: start 0x200000000, size 0x100000']);
  });

  it('check_memblock_offlined_cb: pr_warn naming the first online block with %pa', () => {
    // mm/memory_hotplug.c check_memblock_offlined_cb: beginpa = PFN_PHYS(section_nr_to_pfn(mem->start_section_nr)),
    // endpa = beginpa + memory_block_size_bytes() - 1, "removing memory fails, because memory [%pa-%pa] is onlined\n"
    const x = sim();
    expect(x.run(remove(128n * MiB, 256n * MiB))).toMatchObject({ ok: false, errno: 'EBUSY' });
    expect(x.messages()).toEqual(['removing memory fails, because memory [0x0000000008000000-0x000000000fffffff] is onlined']);
  });

  it('try_remove_memory: "Refuse to remove … ,wrong granularity" with start and start + size', () => {
    // mm/memory_hotplug.c try_remove_memory (6.1): pr_warn("Refuse to remove %#llx - %#llx," "wrong granularity\n", start, start + size)
    const x = sim('6.1', 'memory_hotplug.memmap_on_memory=1');
    x.run(add(8n * GiB, 128n * MiB, ['memmap_on_memory']));
    x.run(add(8n * GiB + 128n * MiB, 128n * MiB, ['memmap_on_memory']));
    expect(x.run(remove(8n * GiB, 256n * MiB))).toMatchObject({ ok: false, errno: 'EINVAL' });
    expect(x.messages()).toEqual(['Refuse to remove 0x200000000 - 0x210000000,wrong granularity']);
  });

  it('mhp_range_allowed: pr_warn with end = start + size and the pluggable range', () => {
    // mm/memory_hotplug.c mhp_range_allowed: pr_warn("Hotplug memory [%#llx-%#llx] exceeds maximum addressable range [%#llx-%#llx]\n", start, end, …)
    const x = sim();
    const top = x.s.machine.pluggableEndBytes + 1n;
    expect(x.run(add(top, 128n * MiB))).toMatchObject({ ok: false, errno: 'E2BIG' });
    expect(x.messages()).toEqual([`Hotplug memory [${cHexAlt(top)}-${cHexAlt(top + 128n * MiB)}] exceeds maximum addressable range [0-${cHexAlt(top - 1n)}]`]);
  });

  it('arm64 prevent_bootmem_remove_notifier: the first early section as "[%lx %lx]"', () => {
    // arch/arm64/mm/mmu.c prevent_bootmem_remove_notifier: start = PFN_PHYS(pfn), end = start + (1UL << PA_SECTION_SHIFT),
    // pr_warn("Boot memory [%lx %lx] offlining attempted\n", start, end)
    const arm: ArchBackend = { ...testBackend, capabilities: (c) => ({ ...testBackend.capabilities(c), bootMemoryOfflinable: false }) };
    const x = sim('6.1', '', arm);
    expect(x.run({ kind: 'block_state', block: 1, state: 'offline' })).toMatchObject({ ok: false });
    expect(x.messages()).toEqual(['Boot memory [8000000 10000000] offlining attempted']);
  });
});

describe('once-only messages', () => {
  it('prints pagemap_range\'s WARN_ONCE "attempted on ram region" for the first attempt only, and still refuses each', () => {
    // mm/memremap.c pagemap_range: WARN_ONCE(1, "attempted on %s region %#llx-%#llx\n", "ram", range->start, range->end)
    const x = sim();
    expect(x.run(devdax('a', GiB, 2n * MiB))).toMatchObject({ ok: false, errno: 'ENXIO' });
    expect(x.run(devdax('b', 2n * GiB, 2n * MiB))).toMatchObject({ ok: false, errno: 'ENXIO' });
    expect(x.messages()).toEqual(['attempted on ram region 0x40000000-0x401fffff']);
  });

  it('remembers the printed sites in the state, so replay of the log decides the same', () => {
    const x = sim();
    x.run(devdax('a', GiB, 2n * MiB));
    expect([...x.s.state.printedOnce]).toEqual(['attempted on ']);
    const replayed = replayState(x.events.map((e) => JSON.parse(serializeEvent(e)) as EventEnvelope), x.s.header());
    expect(replayed.printedOnce).toEqual(x.s.state.printedOnce);
  });

  it('prints messages without a once-only site every time', () => {
    // mm/memory_hotplug.c __add_pages: WARN(1, "Misaligned …") is not WARN_ONCE
    const x = sim();
    x.run(devdax('a', 0x410000000n, MiB));
    x.run(devdax('b', 0x420000000n, MiB));
    expect(x.messages()).toEqual(['Misaligned __add_pages start: 0x410000 end: #4100ff', 'Misaligned __add_pages start: 0x420000 end: #4200ff']);
    expect(onceSiteOf('Misaligned __add_pages start: 0x410000 end: #4100ff')).toBeNull();
  });
});

describe('the message catalogue the conformance harness matches dmesg with', () => {
  it('recognises every message the tests above print, and each names its kernel source', () => {
    const printed = [
      'Misaligned __add_pages start: 0x410000 end: #4100ff',
      'Block size [0x8000000] unaligned hotplug range: start 0x200000000, size 0x100000',
      'removing memory fails, because memory [0x0000000008000000-0x000000000fffffff] is onlined',
      'Refuse to remove 0x200000000 - 0x210000000,wrong granularity',
      'Boot memory [8000000 10000000] offlining attempted',
      'attempted on ram region 0x40000000-0x401fffff',
      'section already deactivated (0x200000 + 512)',
      'sparse_init_nid: node[1] memory map backing failed. Some memory will not be available.',
    ];
    for (const m of printed) expect(kernelMessageOf(m)?.prefix, m).toBeDefined();
    expect(kernelMessageOf('memhp: vmemmap PMD at 0xffffea0000000000 came from an altmap but is freed without one')).toBeNull();
    expect(KERNEL_MESSAGES.every((m) => /\.c /.test(m.source))).toBe(true);
  });

  it('normalises real dmesg lines: timestamp, and WARNING/BUG headers without CPU, PID, line and offsets', () => {
    // kernel/panic.c __warn (6.1): "WARNING: CPU: %d PID: %d at %pS\n" with file:line and func+off/size
    expect(normaliseDmesgLine('[   12.345678] WARNING: CPU: 3 PID: 412 at mm/memory_hotplug.c:1091 online_pages+0x5b/0x2a0')).toBe(
      'WARNING: at mm/memory_hotplug.c online_pages',
    );
    expect(normaliseDmesgLine('[    8.000001] kernel BUG at mm/memory_hotplug.c:2075!')).toBe('kernel BUG at mm/memory_hotplug.c!');
    expect(normaliseDmesgLine('[    3.1] Misaligned __add_pages start: 0x410000 end: #4100ff')).toBe('Misaligned __add_pages start: 0x410000 end: #4100ff');
    expect(kernelMessageOf(normaliseDmesgLine('[ 1.0] WARNING: CPU: 0 PID: 1 at mm/memory_hotplug.c:1816 offline_pages+0x1/0x2'))?.once).toBe(true);
  });
});
