/** Option parsing shared by the commands: architectures, sizes, kernel versions, all with located errors. */
import type { Command } from 'commander';
import { blockSizeProblem, DEFAULT_KERNEL, KERNEL_SERIES, parseKernelVersion, physRangeProblem, type ArchBackend, type ArchConfig, type KernelVersion } from '@memhp/core';
import { UserError } from '../errors.js';
import { parseSize } from '../parse/size.js';
import { BackendRegistry } from '../backends.js';
import { createOut, type Out } from '../render/output.js';
import { globals } from '../program.js';

export function optSize(value: string | undefined, option: string): bigint | undefined {
  if (value === undefined) return undefined;
  try {
    return parseSize(value);
  } catch (e) {
    throw new UserError((e as Error).message, { field: option });
  }
}

export function optInt(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim())) throw new UserError(`not a non-negative integer: "${value}"`, { field: option });
  return Number(value);
}

export function optKernel(value: string | undefined, option = '--kernel'): KernelVersion {
  if (value === undefined) return DEFAULT_KERNEL;
  try {
    return parseKernelVersion(value);
  } catch (e) {
    throw new UserError((e as Error).message, { field: option });
  }
}

/** `--kernel all` → every series (callers merge neighbours with the same answer into one row), else one. */
export function optKernels(value: string | undefined): { all: boolean; kernels: KernelVersion[] } {
  if (value?.trim() === 'all') return { all: true, kernels: [...KERNEL_SERIES] };
  return { all: false, kernels: [optKernel(value)] };
}

export interface CommandEnv {
  readonly out: Out;
  readonly registry: BackendRegistry;
}

export async function env(cmd: Command): Promise<CommandEnv> {
  const g = globals(cmd);
  return { out: createOut(Boolean(g.json)), registry: await BackendRegistry.create(g.archModule ?? []) };
}

/** Resolve `--arch`, `--page-size`, `--struct-page` and features into a backend and its ArchConfig. */
export function archConfigFrom(
  registry: BackendRegistry,
  o: { arch?: string; pageSize?: string; structPage?: string; feature?: string[] },
  kernel: KernelVersion,
): { backend: ArchBackend; config: ArchConfig } {
  const backend = registry.get(o.arch ?? 'x86_64', { field: '--arch' });
  const pageSizeBytes = Number(optSize(o.pageSize, '--page-size') ?? 4096n);
  if (!backend.pageSizes.includes(pageSizeBytes)) {
    throw new UserError(
      `${backend.id} does not model ${pageSizeBytes}-byte pages; it has ${backend.pageSizes.map((p) => `${p / 1024}K`).join(', ')}`,
      { field: '--page-size' },
    );
  }
  const structPageBytes = optInt(o.structPage, '--struct-page') ?? 64;
  const features: Record<string, string | number | boolean> = {};
  for (const f of o.feature ?? []) {
    const m = /^([\w.-]+)(?:=(.*))?$/.exec(f);
    if (!m) throw new UserError(`not a feature: "${f}" (expected name or name=value)`, { field: '--feature' });
    const spec = backend.features.find((p) => p.name === m[1] || p.feature === m[1]);
    if (!spec) throw new UserError(`${backend.id} has no feature "${m[1]}"; known: ${backend.features.map((p) => p.name).join(', ')}`, { field: '--feature' });
    features[spec.feature ?? spec.name] = m[2] ?? true;
  }
  const config: ArchConfig = { pageSizeBytes, structPageBytes, kernel, features };
  const s = backend.supports(config);
  if (!s.supported) throw new UserError(`${backend.id}: ${s.why}`, { field: '--arch' });
  return { backend, config };
}

export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/**
 * `--block-size` checked by core's own rule (blockSizeProblem), so `check`, `plan` and a scenario's machine.blockSize
 * give the same answer for the same value: exit 2 with the same words.
 */
export function optBlockSize(value: string | undefined, backend: ArchBackend, config: ArchConfig, option = '--block-size'): bigint | undefined {
  const bytes = optSize(value, option);
  if (bytes === undefined) return undefined;
  const why = blockSizeProblem(backend.constants(config), bytes);
  if (why) throw new UserError(why, { field: option });
  return bytes;
}

/** An end of boot RAM (`--boot-ram-end`) within the arch's physical address space, by core's rule. */
export function optBootRamEnd(value: string | undefined, backend: ArchBackend, config: ArchConfig, option = '--boot-ram-end'): bigint | undefined {
  const bytes = optSize(value, option);
  if (bytes === undefined) return undefined;
  const why = physRangeProblem(backend.id, backend.constants(config), 0n, bytes);
  if (why) throw new UserError(`boot RAM ${why}`, { field: option });
  return bytes;
}
