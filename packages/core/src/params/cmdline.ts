/**
 * The kernel command line, parsed the way the kernel parses it (apps/docs/kernel/knobs.md#cmdline): `next_arg` tokenising
 * (lib/cmdline.c: double quotes group words, a quoted value loses its quotes), `name=value` and bare words,
 * `-` and `_` equivalent in parameter names (kernel/params.c parameq), the last occurrence winning, `--`
 * ending the kernel's part, `memparse` sizes (base 0 number + K/M/G/T/P/E), and kstrtobool booleans.
 *
 * Where the kernel rejects a value it usually prints a message and keeps the default. memhp is stricter for
 * the parameters it models, because a simulation that silently ignored a typo would mislead: a malformed
 * value is a {@link CmdlineError}. Where the kernel's leniency is the documented behaviour (an invalid
 * `memhp_default_state=` is ignored; unknown words are handed to init; HugeTLB size errors are warnings),
 * memhp follows the kernel and says so in a warning.
 */
import type { ParamSpec } from '../arch/backend.js';
import type { OnlineType } from '../api.js';
import type { KernelVersion } from '../kernel/version.js';
import { pick } from '../kernel/version.js';
import {
  autoMovablePolicy,
  hugetlbFreeVmemmapParam,
  memmapOnMemoryHvoExclusion,
  memmapOnMemoryParamType,
} from '../kernel/rules.js';
import type { HugepagesRequest, KernelParams, MemmapOnMemoryParam, OnlinePolicy } from './types.js';

/** A parameter memhp models got a value the kernel would not accept (or a name memhp cannot place). */
export class CmdlineError extends Error {
  constructor(
    readonly param: string,
    readonly value: string | null,
    readonly allowed: string,
    detail?: string,
  ) {
    super(
      `kernel command line: ${value === null ? `"${param}"` : `"${param}=${value}"`}: ${detail ?? 'invalid value'}; allowed: ${allowed}`,
    );
    this.name = 'CmdlineError';
  }
}

export interface CmdlineContext {
  readonly kernel: KernelVersion;
  /** The backend's own parameters and switches (ArchBackend.features). */
  readonly archParams: readonly ParamSpec[];
  /** Huge page sizes the arch supports (ArchBackend.hugepageSizes); without it sizes are only checked for syntax. */
  readonly hugepageSizes?: readonly bigint[];
  /** sizeof(struct page): HVO cannot be enabled unless it is a power of two (apps/docs/kernel/hvo.md#conditions item 3). */
  readonly structPageBytes?: number;
}

export interface CmdlineResult {
  readonly params: KernelParams;
  readonly warnings: string[];
}

/** One word of the command line after `next_arg`. */
export interface CmdlineArg {
  readonly name: string;
  readonly value: string | null;
  /** 0-based index of the word on the line (for messages). */
  readonly index: number;
}

/** Defaults of every modelled parameter for a kernel (apps/docs/kernel/knobs.md#cmdline "default" column). */
export function defaultKernelParams(): KernelParams {
  return {
    memmapOnMemory: 'off',
    memhpDefaultState: 'offline',
    movableNode: false,
    onlinePolicy: 'contig-zones',
    autoMovableRatio: 301,
    autoMovableNumaAware: true,
    hugetlbFreeVmemmap: false,
    hugepages: [],
    defaultHugepageBytes: null,
    memLimitBytes: null,
    arch: {},
    passthrough: [],
  };
}

/**
 * lib/cmdline.c next_arg, over the whole line. Words after a lone `--` are init's; they are returned in
 * `init` and not parsed as kernel parameters (init/main.c parse_args stops there).
 */
export function tokenizeCmdline(cmdline: string): { args: CmdlineArg[]; init: string[] } {
  const args: CmdlineArg[] = [];
  const init: string[] = [];
  let s = cmdline.replace(/^\s+/, '');
  let index = 0;
  let afterDashes = false;
  while (s.length > 0) {
    let quoted = false;
    let inQuote = false;
    if (s[0] === '"') {
      s = s.slice(1);
      inQuote = true;
      quoted = true;
    }
    let i = 0;
    let equals = -1;
    for (; i < s.length; i++) {
      const c = s[i] as string;
      if (/\s/.test(c) && !inQuote) break;
      if (equals < 0 && c === '=') equals = i;
      if (c === '"') inQuote = !inQuote;
    }
    let word = s.slice(0, i);
    let name: string;
    let value: string | null;
    if (equals < 0) {
      if (quoted && word.endsWith('"')) word = word.slice(0, -1);
      name = word;
      value = null;
    } else {
      name = word.slice(0, equals);
      let v = word.slice(equals + 1);
      if (v.startsWith('"')) {
        v = v.slice(1);
        if (v.endsWith('"')) v = v.slice(0, -1);
      } else if (quoted && v.endsWith('"')) {
        v = v.slice(0, -1);
      }
      value = v;
    }
    s = s.slice(i).replace(/^\s+/, '');
    if (afterDashes) init.push(value === null ? name : `${name}=${value}`);
    else if (name === '--' && value === null) afterDashes = true;
    else args.push({ name, value, index });
    index++;
  }
  return { args, init };
}

/** parameq: `-` and `_` are the same character in parameter names. */
export const normaliseParamName = (name: string): string => name.replace(/-/g, '_');

/** lib/kstrtox.c kstrtobool (6.1): y/Y/t/T/1, n/N/f/F/0, on/off by their first two characters. */
export function kstrtobool(s: string | null): boolean | null {
  if (s === null || s.length === 0) return null;
  const c = s[0] as string;
  if ('yYtT1'.includes(c)) return true;
  if ('nNfF0'.includes(c)) return false;
  if (c === 'o' || c === 'O') {
    const d = s[1];
    if (d === 'n' || d === 'N') return true;
    if (d === 'f' || d === 'F') return false;
  }
  return null;
}

/** simple_strtoull with base 0: `0x` hex, a leading `0` octal, else decimal. Returns the value and the rest. */
function strtoull(s: string): { value: bigint; rest: string } | null {
  let m = /^0[xX]([0-9a-fA-F]+)/.exec(s);
  if (m) return { value: BigInt(`0x${m[1]}`), rest: s.slice(m[0].length) };
  m = /^0([0-7]*)/.exec(s);
  if (m) return { value: m[1] ? BigInt(`0o${m[1]}`) : 0n, rest: s.slice(m[0].length) };
  m = /^[1-9][0-9]*/.exec(s);
  if (m) return { value: BigInt(m[0]), rest: s.slice(m[0].length) };
  return null;
}

const SIZE_SHIFT: Readonly<Record<string, bigint>> = { k: 10n, m: 20n, g: 30n, t: 40n, p: 50n, e: 60n };

/** lib/cmdline.c memparse, requiring the whole string to be consumed (memhp is strict about trailing junk). */
export function memparse(s: string): bigint | null {
  const n = strtoull(s);
  if (!n) return null;
  let { value, rest } = n;
  const suffix = rest[0]?.toLowerCase();
  if (suffix !== undefined && SIZE_SHIFT[suffix] !== undefined) {
    value <<= SIZE_SHIFT[suffix];
    rest = rest.slice(1);
  }
  return rest.length === 0 ? value : null;
}

const ONLINE_STATES = ['offline', 'online', 'online_kernel', 'online_movable'] as const;
/** drivers/base/memory.c mhp_online_type_from_str (sysfs_streq: a trailing newline is ignored). */
export function onlineTypeFromStr(s: string): OnlineType | 'offline' | null {
  const t = s.replace(/\n$/, '');
  return (ONLINE_STATES as readonly string[]).includes(t) ? (t as OnlineType | 'offline') : null;
}

const BOOL_ALLOWED = 'y, n, 1, 0, on, off (kstrtobool: first letter y/t/1 or n/f/0, or on/off)';

function boolParam(arg: CmdlineArg, treatBareAsTrue: boolean): boolean {
  // param_set_bool: a bare module bool parameter means "1"; early params get NULL and refuse.
  const v = arg.value === null && treatBareAsTrue ? '1' : arg.value;
  const b = kstrtobool(v);
  if (b === null) throw new CmdlineError(arg.name, arg.value, BOOL_ALLOWED, 'not a kernel boolean');
  return b;
}

function sizeParam(arg: CmdlineArg, allowed = 'a size: number (0x… hex, 0… octal) with an optional K/M/G/T/P/E suffix'): bigint {
  const v = arg.value === null ? null : memparse(arg.value);
  if (v === null) throw new CmdlineError(arg.name, arg.value, allowed, 'not a size');
  return v;
}

function uintParam(arg: CmdlineArg): number {
  // kstrtouint: base 0, optional leading '+', a trailing newline allowed, 32-bit range (-ERANGE beyond).
  const raw = arg.value?.replace(/\n$/, '').replace(/^\+/, '') ?? '';
  const n = strtoull(raw);
  if (!n || n.rest.length > 0) throw new CmdlineError(arg.name, arg.value, 'an unsigned integer (0 … 4294967295)', 'not an unsigned integer');
  if (n.value > 0xffffffffn) throw new CmdlineError(arg.name, arg.value, 'an unsigned integer (0 … 4294967295)', 'out of range (-ERANGE)');
  return Number(n.value);
}

const fmtSize = (b: bigint): string => {
  for (const [unit, shift] of [['G', 30n], ['M', 20n], ['K', 10n]] as const) {
    if (b >= 1n << shift && b % (1n << shift) === 0n) return `${b >> shift}${unit}`;
  }
  return `${b}`;
};

/** Module parameters of memory_hotplug the kernel knows, per version (for the unknown-name error). */
function memoryHotplugParamNames(kernel: KernelVersion): string[] {
  const names: string[] = [];
  if (pick(memmapOnMemoryParamType, kernel) !== 'absent') names.push('memmap_on_memory');
  if (pick(autoMovablePolicy, kernel)) names.push('online_policy', 'auto_movable_ratio', 'auto_movable_numa_aware');
  return names;
}

/**
 * Parse a kernel command line into {@link KernelParams}. Throws {@link CmdlineError} for a malformed value of
 * a parameter memhp models, or an unknown `memory_hotplug.*` name; everything the kernel is lenient about
 * comes back as a warning.
 */
export function parseCmdline(cmdline: string, ctx: CmdlineContext): CmdlineResult {
  const { kernel } = ctx;
  const warnings: string[] = [];
  const d = defaultKernelParams();
  let memmapOnMemory: MemmapOnMemoryParam = d.memmapOnMemory;
  let memhpDefaultState = d.memhpDefaultState;
  let movableNode = d.movableNode;
  let onlinePolicy: OnlinePolicy = d.onlinePolicy;
  let autoMovableRatio = d.autoMovableRatio;
  let autoMovableNumaAware = d.autoMovableNumaAware;
  let hugetlbFreeVmemmap = d.hugetlbFreeVmemmap;
  let defaultHugepageBytes: bigint | null = null;
  let memLimitBytes: bigint | null = null;
  const arch: Record<string, boolean | number | string> = {};
  const passthrough: string[] = [];
  const hugepages: HugepagesRequest[] = [];

  // mm/hugetlb.c state machine of hugepagesz= / hugepages= (6.1 hugepages_setup).
  let parsedValidHugepagesz = true;
  let currentHugepagesz: bigint | null = null; // null: the default hstate
  let lastHugepagesTarget: string | undefined;
  const seenHugepagesz = new Set<bigint>();
  const sizes = ctx.hugepageSizes;
  const validHugeSize = (b: bigint): boolean => sizes === undefined || sizes.includes(b);
  const sizesAllowed = sizes ? sizes.map(fmtSize).join(', ') : 'a size supported by the arch';

  const archByName = new Map(ctx.archParams.map((p) => [normaliseParamName(p.name), p] as const));
  const momType = pick(memmapOnMemoryParamType, kernel);
  const hasAutoMovable = pick(autoMovablePolicy, kernel);
  const hvoSyntax = pick(hugetlbFreeVmemmapParam, kernel);

  const { args, init } = tokenizeCmdline(cmdline);
  for (const arg of args) {
    const name = normaliseParamName(arg.name);
    const word = arg.value === null ? arg.name : `${arg.name}=${arg.value}`;
    switch (name) {
      case 'memory_hotplug.memmap_on_memory': {
        if (momType === 'absent') {
          warnings.push(`"${word}": memory_hotplug.memmap_on_memory does not exist before 5.13 (kernel ${kernel}); the kernel ignores unknown module parameters`);
          passthrough.push(word);
          break;
        }
        if (momType === 'bool-or-force' && arg.value !== null && /^(force|FORCE)\n?$/.test(arg.value)) {
          memmapOnMemory = 'force';
          break;
        }
        // 6.6+ memmap_on_memory_set calls kstrtobool on the value (NULL → -EINVAL); ≤6.5 param_set_bool treats a bare name as 1.
        const allowed = momType === 'bool-or-force' ? `${BOOL_ALLOWED}, or force` : BOOL_ALLOWED;
        if (arg.value === null && momType === 'bool-or-force') throw new CmdlineError(arg.name, null, allowed, 'needs a value since 6.6');
        const b = kstrtobool(arg.value === null ? '1' : arg.value);
        if (b === null) throw new CmdlineError(arg.name, arg.value, allowed, 'not a kernel boolean');
        if (arg.value !== null && /^force/i.test(arg.value))
          warnings.push(`"${word}": "force" exists only from 6.6; kernel ${kernel} parses it with kstrtobool, where a leading "f" means false, so memmap_on_memory stays off`);
        memmapOnMemory = b ? 'on' : 'off';
        break;
      }
      case 'memhp_default_state': {
        const t = arg.value === null ? null : onlineTypeFromStr(arg.value);
        if (t === null) {
          warnings.push(
            `"${word}" ignored: allowed values are ${ONLINE_STATES.join(', ')}; the kernel is lenient here (setup_memhp_default_state keeps the default without a message)`,
          );
        } else memhpDefaultState = t;
        break;
      }
      case 'movable_node':
        if (arg.value !== null) warnings.push(`"${word}": movable_node is a flag; the kernel ignores the value`);
        movableNode = true;
        break;
      case 'memory_hotplug.online_policy':
      case 'memory_hotplug.auto_movable_ratio':
      case 'memory_hotplug.auto_movable_numa_aware': {
        if (!hasAutoMovable) {
          warnings.push(`"${word}": ${name} does not exist before 5.15 (kernel ${kernel}); the kernel ignores unknown module parameters`);
          passthrough.push(word);
          break;
        }
        if (name === 'memory_hotplug.online_policy') {
          const v = arg.value?.replace(/\n$/, '');
          if (v !== 'contig-zones' && v !== 'auto-movable') throw new CmdlineError(arg.name, arg.value, 'contig-zones, auto-movable');
          onlinePolicy = v;
        } else if (name === 'memory_hotplug.auto_movable_ratio') {
          autoMovableRatio = uintParam(arg);
        } else {
          autoMovableNumaAware = boolParam(arg, true);
        }
        break;
      }
      case 'hugetlb_free_vmemmap': {
        if (hvoSyntax === 'absent') {
          warnings.push(`"${word}": hugetlb_free_vmemmap= does not exist before 5.14 (kernel ${kernel}); the kernel passes unknown words to init`);
          passthrough.push(word);
          break;
        }
        let on: boolean;
        if (hvoSyntax === 'on-off') {
          if (arg.value !== 'on' && arg.value !== 'off') throw new CmdlineError(arg.name, arg.value, 'on, off (5.14–5.18 compare the exact strings)');
          on = arg.value === 'on';
        } else {
          const b = kstrtobool(arg.value);
          if (b === null) throw new CmdlineError(arg.name, arg.value, BOOL_ALLOWED, 'not a kernel boolean');
          on = b;
        }
        if (on && ctx.structPageBytes !== undefined && (ctx.structPageBytes & (ctx.structPageBytes - 1)) !== 0) {
          warnings.push(`"${word}": HVO stays off because sizeof(struct page) = ${ctx.structPageBytes} is not a power of two (apps/docs/kernel/hvo.md#conditions item 3)`);
          on = false;
        }
        hugetlbFreeVmemmap = on;
        break;
      }
      case 'hugepagesz': {
        const b = sizeParam(arg, sizesAllowed);
        if (!validHugeSize(b)) {
          warnings.push(`"${word}" ignored: unsupported huge page size (allowed: ${sizesAllowed}); the kernel prints "HugeTLB: unsupported hugepagesz=" and goes on`);
          parsedValidHugepagesz = false;
          break;
        }
        if (seenHugepagesz.has(b)) {
          warnings.push(`"${word}" ignored: hugepagesz=${arg.value} specified twice (the kernel warns and keeps the first)`);
          parsedValidHugepagesz = false;
          break;
        }
        seenHugepagesz.add(b);
        parsedValidHugepagesz = true;
        currentHugepagesz = b;
        break;
      }
      case 'default_hugepagesz': {
        const b = sizeParam(arg, sizesAllowed);
        if (defaultHugepageBytes !== null) {
          warnings.push(`"${word}" ignored: default_hugepagesz previously specified (the kernel keeps the first)`);
          break;
        }
        if (!validHugeSize(b)) {
          warnings.push(`"${word}" ignored: unsupported default_hugepagesz (allowed: ${sizesAllowed}); the kernel is lenient here`);
          break;
        }
        defaultHugepageBytes = b;
        break;
      }
      case 'hugepages': {
        if (!parsedValidHugepagesz) {
          warnings.push(`"${word}" ignored: it does not follow a valid hugepagesz= (the kernel warns and goes on)`);
          parsedValidHugepagesz = true;
          break;
        }
        const target = currentHugepagesz === null ? 'default' : currentHugepagesz.toString();
        if (target === lastHugepagesTarget) {
          warnings.push(`"${word}" ignored: hugepages= specified twice without an interleaving hugepagesz= (the kernel warns and keeps the first)`);
          break;
        }
        const req = parseHugepagesCount(arg);
        hugepages.push({ sizeBytes: currentHugepagesz, ...req });
        lastHugepagesTarget = target;
        break;
      }
      case 'mem': {
        if (arg.value === 'nopentium') {
          passthrough.push(word);
          break;
        }
        const b = sizeParam(arg);
        if (b === 0n) throw new CmdlineError(arg.name, arg.value, 'a non-zero size', 'x86 parse_memopt refuses 0 (-EINVAL)');
        memLimitBytes = b;
        break;
      }
      case 'kernelcore':
      case 'movablecore': {
        const v = arg.value ?? '';
        if (name === 'kernelcore' && v === 'mirror') {
          passthrough.push(word);
          warnings.push(`"${word}": mirrored-memory kernelcore is not modelled; ZONE_MOVABLE sizing at boot is left to the boot model`);
          break;
        }
        if (!/^\d+%$/.test(v) && memparse(v) === null)
          throw new CmdlineError(arg.name, arg.value, `nn[KMGTPE], nn%${name === 'kernelcore' ? ', or mirror' : ''}`, 'not a size or percentage');
        passthrough.push(word);
        break;
      }
      default: {
        const spec = archByName.get(name);
        if (spec) {
          arch[spec.feature ?? spec.name] = parseArchParam(spec, arg);
          break;
        }
        if (name.startsWith('memory_hotplug.')) {
          const known = memoryHotplugParamNames(kernel);
          throw new CmdlineError(
            arg.name,
            arg.value,
            known.length ? known.map((k) => `memory_hotplug.${k}`).join(', ') : `none (kernel ${kernel} has no memory_hotplug parameters)`,
            `unknown memory_hotplug parameter for kernel ${kernel} (the kernel would silently ignore it)`,
          );
        }
        passthrough.push(word);
        if (name.includes('.')) warnings.push(`"${word}": not a parameter memhp models; the kernel ignores unknown module parameters (lenient)`);
        else if (!/^(BOOT_IMAGE|kexec)/.test(arg.name))
          warnings.push(`"${word}": not a parameter memhp models; the kernel passes unknown words to init as ${arg.value === null ? 'an argument' : 'an environment variable'} (lenient)`);
      }
    }
  }
  for (const w of init) passthrough.push(w);

  // 5.19: the memmap_on_memory setter leaves it off while HVO is on — "hugetlb_free_vmemmap takes precedence".
  if (memmapOnMemory !== 'off' && hugetlbFreeVmemmap && pick(memmapOnMemoryHvoExclusion, kernel) === 'param-parse') {
    warnings.push('memory_hotplug.memmap_on_memory stays off: hugetlb_free_vmemmap takes precedence in 5.19 (apps/docs/kernel/memmap-on-memory.md#support)');
    memmapOnMemory = 'off';
  }

  return {
    params: {
      memmapOnMemory,
      memhpDefaultState,
      movableNode,
      onlinePolicy,
      autoMovableRatio,
      autoMovableNumaAware,
      hugetlbFreeVmemmap,
      hugepages,
      defaultHugepageBytes,
      memLimitBytes,
      arch,
      passthrough,
    },
    warnings,
  };
}

/** hugepages=N or the per-node form N:count,N:count (mm/hugetlb.c hugepages_setup). */
function parseHugepagesCount(arg: CmdlineArg): { count: number; perNode?: Record<number, number> } {
  const allowed = 'a count, or per-node counts node:count,node:count';
  const v = arg.value ?? '';
  if (/^\d+$/.test(v)) return { count: Number(v) };
  if (!/^\d+:\d+(,\d+:\d+)*$/.test(v)) throw new CmdlineError(arg.name, arg.value, allowed, 'invalid hugepages parameter');
  const perNode: Record<number, number> = {};
  let count = 0;
  for (const part of v.split(',')) {
    const [n, c] = part.split(':').map(Number) as [number, number];
    perNode[n] = c;
    count += c;
  }
  return { count, perNode };
}

function parseArchParam(spec: ParamSpec, arg: CmdlineArg): boolean | number | string {
  switch (spec.kind) {
    case 'flag':
      return true;
    case 'bool':
      return boolParam(arg, true);
    case 'uint':
      return uintParam(arg);
    case 'size': {
      const b = sizeParam(arg);
      if (b > BigInt(Number.MAX_SAFE_INTEGER)) throw new CmdlineError(arg.name, arg.value, 'a size below 2^53', 'too large');
      return Number(b);
    }
    case 'enum': {
      const allowed = spec.allowed ?? [];
      if (arg.value === null || !allowed.includes(arg.value)) throw new CmdlineError(arg.name, arg.value, allowed.join(', '));
      return arg.value;
    }
    case 'string':
      if (arg.value === null) throw new CmdlineError(arg.name, null, 'name=value', 'needs a value');
      return arg.value;
  }
}
