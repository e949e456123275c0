/**
 * Derived constants of one configuration (apps/docs/kernel/constants.md#arch-independent to apps/docs/kernel/constants.md#per-arch, apps/docs/kernel/sparse.md#section-table, apps/docs/kernel/vmemmap.md#layout) and the pfn/section/vmemmap address
 * arithmetic every module shares. Pure functions over {@link Geometry}.
 */
import type { ArchConstants } from '../arch/backend.js';
import type { Geometry, PgtableLevel } from './state.js';

/** SUBSECTION_SHIFT (apps/docs/kernel/constants.md#arch-independent): a sub-section is 2 MiB on every architecture since 5.3. */
export const SUBSECTION_SHIFT = 21;

export function deriveGeometry(c: ArchConstants, structPageBytes: number, blockSizeBytes: bigint): Geometry {
  const pageBytes = 2 ** c.pageShift;
  const pfnSectionShift = c.sectionSizeBits - c.pageShift;
  const pagesPerSection = 2 ** pfnSectionShift;
  const pagesPerSubsection = 2 ** (SUBSECTION_SHIFT - c.pageShift);
  const sectionMemmapBytes = pagesPerSection * structPageBytes;
  const pagesPerBlock = Number(blockSizeBytes >> BigInt(c.pageShift));
  return {
    pageShift: c.pageShift,
    pageBytes,
    structPageBytes,
    sectionSizeBits: c.sectionSizeBits,
    pfnSectionShift,
    pagesPerSection,
    pagesPerSubsection,
    subsectionsPerSection: 2 ** (c.sectionSizeBits - SUBSECTION_SHIFT),
    nrMemSections: 2 ** (c.maxPhysmemBits - c.sectionSizeBits),
    sectionsPerRoot: pageBytes / c.memSectionBytes,
    pmdShift: c.pmdShift,
    pudShift: c.pudShift,
    pgtableLevels: c.pgtableLevels,
    ptrsShift: c.pageShift - 3,
    pageblockOrder: c.pageblockOrder,
    pageblockPages: 2 ** c.pageblockOrder,
    maxBuddyOrder: c.maxBuddyOrder,
    sectionMemmapBytes,
    sectionMemmapPages: Math.ceil(sectionMemmapBytes / pageBytes),
    vmemmapBase: c.vmemmapBase,
    maxPhysmemBits: c.maxPhysmemBits,
    blockSizeBytes,
    pagesPerBlock,
    sectionsPerBlock: pagesPerBlock / pagesPerSection,
  };
}

/** The shift of the VA span one page table at `level` covers: the table's key is va >> this. */
export function pgtableShift(g: Geometry, level: PgtableLevel): number {
  switch (level) {
    case 'pte':
      return g.pmdShift;
    case 'pmd':
      return g.pudShift;
    case 'pud':
      return g.pudShift + g.ptrsShift;
    case 'p4d':
      return g.pudShift + 2 * g.ptrsShift;
  }
}

export const pfnToSectionNr = (g: Geometry, pfn: number): number => Math.floor(pfn / g.pagesPerSection);
export const sectionNrToPfn = (g: Geometry, nr: number): number => nr * g.pagesPerSection;
export const sectionNrToRoot = (g: Geometry, nr: number): number => Math.floor(nr / g.sectionsPerRoot);
export const pfnToBlockId = (g: Geometry, pfn: number): number => Math.floor(pfn / g.pagesPerBlock);
export const blockIdToPfn = (g: Geometry, id: number): number => id * g.pagesPerBlock;
// in doubles while exact (physical addresses are below 2^52): cheaper than a bigint shift by BigInt(pageShift)
export const bytesToPfn = (g: Geometry, bytes: bigint): number => {
  const n = Number(bytes);
  return Number.isSafeInteger(n) ? Math.floor(n / g.pageBytes) : Number(bytes >> BigInt(g.pageShift));
};
export const pfnToBytes = (g: Geometry, pfn: number): bigint => {
  const n = pfn * g.pageBytes;
  return Number.isSafeInteger(n) ? BigInt(n) : BigInt(pfn) << BigInt(g.pageShift);
};

/** Index of pfn's sub-section inside its section (subsection_map_index). */
export const subsectionIndex = (g: Geometry, pfn: number): number =>
  Math.floor((pfn % g.pagesPerSection) / g.pagesPerSubsection);

/**
 * subsection_mask_set: the bits of [pfn, pfn + nrPages) inside pfn's section. Callers split at section
 * boundaries. nrPages = 0 gives an empty mask (the -EINVAL case of fill_subsection_map).
 */
export function subsectionMask(g: Geometry, pfn: number, nrPages: number): bigint {
  if (nrPages <= 0) return 0n;
  const first = subsectionIndex(g, pfn);
  const last = subsectionIndex(g, pfn + nrPages - 1);
  if (first === 0 && last === g.subsectionsPerSection - 1) return fullSubsectionMap(g);
  return ((1n << BigInt(last - first + 1)) - 1n) << BigInt(first);
}

// the full map of the last geometry asked about: whole-section adds and removes need it every time
let fullFor: Geometry | null = null;
let fullMap = 0n;
export const fullSubsectionMap = (g: Geometry): bigint => {
  if (g !== fullFor) {
    fullMap = (1n << BigInt(g.subsectionsPerSection)) - 1n;
    fullFor = g;
  }
  return fullMap;
};

/**
 * Whether pfn's bit is set in a section's sub-section map. A whole hot-added section shares the full map: one
 * comparison then, instead of a bigint shift and mask.
 */
export function subsectionBitSet(g: Geometry, map: bigint, pfn: number): boolean {
  if (map === fullSubsectionMap(g)) return true;
  return ((map >> BigInt(subsectionIndex(g, pfn))) & 1n) === 1n;
}

/**
 * The last few (bigint, hex string) pairs seen, so a value formatted by hex() and parsed back by evolve right after
 * (an event's address, a sub-section map) skips the work the second time. Bounded and pure: every slot holds a
 * true pair (0n and '0x0' at first), so a hit is always the right answer.
 */
class HexMemo {
  readonly #val: bigint[];
  readonly #str: string[];
  #next = 0;
  constructor(size: number) {
    this.#val = new Array<bigint>(size).fill(0n);
    this.#str = new Array<string>(size).fill('0x0');
  }
  remember(v: bigint, h: string): void {
    this.#val[this.#next] = v;
    this.#str[this.#next] = h;
    this.#next = (this.#next + 1) % this.#val.length;
  }
  /** The string remembered for v, or undefined. */
  strOf(v: bigint): string | undefined {
    for (let i = 0; i < this.#val.length; i++) if (this.#val[i] === v) return this.#str[i];
    return undefined;
  }
  /** The value remembered for h, or undefined. */
  valOf(h: string): bigint | undefined {
    for (let i = 0; i < this.#str.length; i++) if (this.#str[i] === h) return this.#val[i];
    return undefined;
  }
}

/**
 * hex / unhex of sub-section maps, which take few distinct values (0, the full map, a handful of partial ones):
 * a section's add/remove neither formats nor parses the same mask again, and every section holding the full map
 * shares one bigint.
 */
const masks = new HexMemo(8);
export function maskHex(v: bigint): string {
  const hit = masks.strOf(v);
  if (hit !== undefined) return hit;
  const h = '0x' + v.toString(16);
  masks.remember(v, h);
  return h;
}
export function unhexMask(h: string): bigint {
  const hit = masks.valOf(h);
  if (hit !== undefined) return hit;
  const v = BigInt(h);
  masks.remember(v, h);
  return v;
}

/** Virtual address of pfn's struct page: vmemmap_base + pfn × sizeof(struct page) (apps/docs/kernel/vmemmap.md#layout). */
// the last two addresses made, by offset, for the last geometry: a section's memmap starts where the previous
// section's ended, so walking sections makes one address each instead of two
let vaFor: Geometry | null = null;
let vaOffA = -1;
let vaA = 0n;
let vaOffB = -1;
let vaB = 0n;
export const pfnToPageVa = (g: Geometry, pfn: number): bigint => {
  // the offset in a double when exact (any pfn below 2^46 with 128-byte struct pages): two bigints instead of four
  const off = pfn * g.structPageBytes;
  if (!Number.isSafeInteger(off)) return g.vmemmapBase + BigInt(pfn) * BigInt(g.structPageBytes);
  if (g === vaFor) {
    if (off === vaOffA) return vaA;
    if (off === vaOffB) return vaB;
  } else {
    vaFor = g;
    vaOffA = vaOffB = -1;
  }
  const va = g.vmemmapBase + BigInt(off);
  vaOffB = vaOffA;
  vaB = vaA;
  vaOffA = off;
  vaA = va;
  return va;
};

/** The pfn whose struct page contains va (rounding down). */
export const pageVaToPfn = (g: Geometry, va: bigint): number =>
  Number((va - g.vmemmapBase) / BigInt(g.structPageBytes));

/** Pages of memmap for nrPages struct pages, rounded up (DIV_ROUND_UP(nr × sizeof(struct page), PAGE_SIZE)). */
export const memmapPages = (g: Geometry, nrPages: number): number =>
  Math.ceil((nrPages * g.structPageBytes) / g.pageBytes);

/** The last few bigints hex() formatted: unhex() of a string it just produced skips BigInt parsing (~80 ns). */
const recentHex = new HexMemo(4);
export const hex = (v: bigint | number): string => {
  if (typeof v !== 'bigint') return '0x' + v.toString(16);
  // a range's end is often the next range's start (a PMD after a PMD): its string is made once
  const hit = recentHex.strOf(v);
  if (hit !== undefined) return hit;
  const h = '0x' + v.toString(16);
  recentHex.remember(v, h);
  return h;
};

/**
 * Number(BigInt(hexString) >> shift) without BigInt: the hot path of evolve (PMD indices of vmemmap addresses).
 * Exact while the result fits 53 bits (64-bit addresses shifted by ≥ 12).
 */
export function hexShr(h: string, shift: number): number {
  const end = h.length - (shift >> 2);
  if (end <= 2) return 0;
  // digit by digit rather than parseInt of a slice (half the time, no substring); events' hex is ^0x[0-9a-f]+$
  let high = 0;
  for (let i = 2; i < end; i++) {
    const c = h.charCodeAt(i);
    high = high * 16 + (c <= 57 ? c - 48 : (c | 32) - 87);
  }
  return Math.floor(high / (1 << (shift & 3)));
}
export function unhex(s: string): bigint {
  return recentHex.valOf(s) ?? BigInt(s);
}

export const isAligned = (v: number, a: number): boolean => v % a === 0;
export const isAlignedBig = (v: bigint, a: bigint): boolean => v % a === 0n;
export const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;
export const alignDown = (v: number, a: number): number => Math.floor(v / a) * a;

/** Largest power of two dividing n (ffs-based alignment of vmem_altmap_next, apps/docs/kernel/vmemmap.md#altmap). */
export function ffsPow2(n: number): number {
  if (n <= 0) return 1;
  let r = 1;
  while (n % (r * 2) === 0) r *= 2;
  return r;
}

export const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;
