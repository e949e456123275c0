/**
 * Quantities every backend's constants imply (apps/docs/kernel/constants.md#arch-independent to apps/docs/kernel/constants.md#per-arch, apps/docs/kernel/hvo.md#what-it-does), computed the kernel's way. The kit
 * checks a backend against them and the test matrix prints them next to the numbers the kernel reference (apps/docs/kernel/) gives.
 */
import type { ArchConfig, ArchConstants, HugepageSize } from '@memhp/core';

export const SUBSECTION_SHIFT = 21;

export interface Derived {
  readonly pageBytes: number;
  readonly sectionBytes: bigint;
  readonly pagesPerSection: number;
  readonly subsectionsPerSection: number;
  readonly pagesPerSubsection: number;
  readonly pmdBytes: bigint;
  readonly pudBytes: bigint;
  /** PAGES_PER_SECTION × sizeof(struct page). */
  readonly sectionMemmapBytes: number;
  /** ceil(section memmap / PAGE_SIZE): nr_memmap_pages per section (apps/docs/kernel/sparse.md#boot, apps/docs/kernel/user-space.md#vmstat). */
  readonly sectionMemmapPages: number;
  readonly nrMemSections: bigint;
  readonly sectionsPerRoot: number;
  readonly pageblockBytes: bigint;
  readonly maxBuddyBytes: bigint;
}

export function derive(config: ArchConfig, c: ArchConstants): Derived {
  const pageBytes = 2 ** c.pageShift;
  const pagesPerSection = 2 ** (c.sectionSizeBits - c.pageShift);
  const sectionMemmapBytes = pagesPerSection * config.structPageBytes;
  return {
    pageBytes,
    sectionBytes: 1n << BigInt(c.sectionSizeBits),
    pagesPerSection,
    subsectionsPerSection: 2 ** (c.sectionSizeBits - SUBSECTION_SHIFT),
    pagesPerSubsection: 2 ** (SUBSECTION_SHIFT - c.pageShift),
    pmdBytes: 1n << BigInt(c.pmdShift),
    pudBytes: 1n << BigInt(c.pudShift),
    sectionMemmapBytes,
    sectionMemmapPages: Math.ceil(sectionMemmapBytes / pageBytes),
    nrMemSections: 1n << BigInt(c.maxPhysmemBits - c.sectionSizeBits),
    sectionsPerRoot: pageBytes / c.memSectionBytes,
    pageblockBytes: 1n << BigInt(c.pageblockOrder + c.pageShift),
    maxBuddyBytes: 1n << BigInt(c.maxBuddyOrder + c.pageShift),
  };
}

/** HVO arithmetic for one HugeTLB size (apps/docs/kernel/hvo.md#what-it-does): w = n × S / P vmemmap pages, w − 1 freed (5.18+). */
export interface HvoNumbers {
  readonly hugepageBytes: bigint;
  /** Base pages in the huge page (n). */
  readonly pages: bigint;
  /** Vmemmap bytes of the huge page (n × S). */
  readonly vmemmapBytes: bigint;
  /** w, or null when n × S is not a whole number of pages (then w ≤ 1 or the size is not optimisable). */
  readonly vmemmapPages: bigint | null;
  /** Pages HVO frees: w − 1 (5.18+) when w > 1 and S is a power of two, else 0. */
  readonly freedPages: bigint;
  readonly freedBytes: bigint;
}

export function hvoNumbers(config: ArchConfig, size: HugepageSize): HvoNumbers {
  const p = BigInt(config.pageSizeBytes);
  const s = BigInt(config.structPageBytes);
  const pages = size.bytes / p;
  const vmemmapBytes = pages * s;
  const whole = vmemmapBytes % p === 0n;
  const w = whole ? vmemmapBytes / p : null;
  const powerOfTwo = (s & (s - 1n)) === 0n;
  const freed = powerOfTwo && w !== null && w > 1n ? w - 1n : 0n;
  return { hugepageBytes: size.bytes, pages, vmemmapBytes, vmemmapPages: w, freedPages: freed, freedBytes: freed * p };
}
