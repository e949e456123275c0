/**
 * `memhp plan hot-add`: the question users keep asking — how much free memory a hot-add of SIZE needs, how
 * many blocks and sections, the memmap cost, the zone it lands in, and whether it can succeed with the free
 * memory given. Core's planHotAdd answers; exit 1 when it is not feasible with --free.
 */
import type { Command } from 'commander';
import { examples } from '../program.js';
import { archConfigFrom, collect, env, optBlockSize, optBootRamEnd, optKernel, optSize } from './common.js';
import { RefusedError, UserError } from '../errors.js';
import { planHotAdd, type OnlineType } from '@memhp/core';
import { humanBytes } from '../parse/size.js';
import { kv, paint, printJson } from '../render/output.js';

interface PlanOpts {
  size?: string;
  arch?: string;
  pageSize?: string;
  structPage?: string;
  kernel?: string;
  feature?: string[];
  free?: string;
  memmapOnMemory?: boolean;
  blockSize?: string;
  bootRamEnd?: string;
  start?: string;
  node?: string;
  onlineType?: string;
}

export function registerPlan(program: Command): void {
  const plan = program.command('plan').description('plan an operation before doing it');
  plan
    .command('hot-add')
    .description('how much free memory a hot-add needs, its blocks, sections, memmap cost and zone, and whether it fits in --free')
    .requiredOption('--size <size>', 'bytes to hot-add: 128M, 12G, 0x…')
    .option('--arch <arch>', 'x86_64, arm64 (aliases x86, aarch64)', 'x86_64')
    .option('--page-size <size>', 'base page size', '4K')
    .option('--struct-page <bytes>', 'sizeof(struct page)', '64')
    .option('--kernel <version>', 'kernel version: a series 5.10 … 6.18, or a stable release X.Y.Z')
    .option('--feature <name[=value]>', 'arch switch; repeatable', collect)
    .option('--free <size>', 'free memory available now (MemFree); feasibility is judged against it')
    .option('--memmap-on-memory', 'memory_hotplug.memmap_on_memory=1 and a driver that asks for it (ACPI DIMM)')
    .option('--block-size <size>', 'memory block size (default: the arch policy)')
    .option('--boot-ram-end <size>', 'end of boot RAM (input of the x86 block-size policy)', '4G')
    .option('--start <addr>', 'physical start address (default: the end of boot RAM)')
    .option('--online-type <type>', 'online, online_kernel or online_movable (auto-online)', 'online')
    .addHelpText('after', examples([
      ['memhp plan hot-add --size 12G --free 200M', 'a 12 GiB hot-add with 200 MiB free: fails without memmap_on_memory'],
      ['memhp plan hot-add --size 12G --free 200M --memmap-on-memory --json', 'the same with memmap_on_memory, as JSON'],
    ]))
    .action(async (o: PlanOpts, cmd: Command) => {
      const { out, registry } = await env(cmd);
      const kernel = optKernel(o.kernel);
      const { backend, config } = archConfigFrom(registry, o, kernel);
      const onlineType = o.onlineType ?? 'online';
      if (!['online', 'online_kernel', 'online_movable'].includes(onlineType)) throw new UserError(`not an online type: "${onlineType}" (online, online_kernel, online_movable)`, { field: '--online-type' });
      const sizeBytes = optSize(o.size, '--size')!;
      if (sizeBytes === 0n) throw new UserError('size must be greater than 0', { field: '--size' });
      const freeBytes = optSize(o.free, '--free');
      const blockSizeBytes = optBlockSize(o.blockSize, backend, config);
      const startBytes = optSize(o.start, '--start');
      const r = planHotAdd({
        backend,
        kernel,
        pageSizeBytes: config.pageSizeBytes,
        structPageBytes: config.structPageBytes,
        features: config.features,
        sizeBytes,
        memmapOnMemory: Boolean(o.memmapOnMemory),
        onlineType: onlineType as OnlineType,
        bootRamEndBytes: optBootRamEnd(o.bootRamEnd, backend, config) ?? 4n << 30n,
        ...(freeBytes !== undefined ? { freeBytes } : {}),
        ...(blockSizeBytes !== undefined ? { blockSizeBytes } : {}),
        ...(startBytes !== undefined ? { startBytes } : {}),
      });
      if (out.json) printJson(out, r);
      else {
        const p = paint(out);
        const feasible = r.feasible;
        out.line(`${p.bold('hot-add')} ${humanBytes(sizeBytes)} on ${backend.id} (kernel ${kernel}${o.memmapOnMemory ? ', memmap_on_memory' : ''}): ${feasible === false ? p.red('not feasible') : feasible === true ? p.green('feasible') : ''}`);
        const rows: Array<[string, string]> = [];
        for (const [k, v] of Object.entries(r) as Array<[string, unknown]>) {
          if (v === null || v === undefined || typeof v === 'object') continue;
          rows.push([k, typeof v === 'bigint' && /Bytes$/.test(k) ? `${v} (${humanBytes(v)})` : String(v)]);
        }
        out.line(kv(out, rows));
        for (const key of ['steps', 'reasons', 'notes']) {
          const list = (r as unknown as Record<string, unknown>)[key];
          if (!Array.isArray(list) || list.length === 0) continue;
          out.line(p.bold(`${key[0]!.toUpperCase()}${key.slice(1)}:`));
          for (const x of list) out.line(`  - ${typeof x === 'string' ? x : Object.values(x as object).map(String).join('  ')}`);
        }
      }
      if (r.feasible === false) throw new RefusedError('');
    });
}
