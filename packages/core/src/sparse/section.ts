/**
 * Section predicates and pfn lookups (include/linux/mmzone.h, 6.1; apps/docs/kernel/sparse.md#validity): present_section,
 * valid_section, early_section, online_section, pfn_section_valid, pfn_valid, pfn_to_online_page.
 */
import { pfnToSectionNr, subsectionBitSet } from '../model/geometry.js';
import {
  SECTION_HAS_MEM_MAP,
  SECTION_IS_EARLY,
  SECTION_IS_ONLINE,
  SECTION_MARKED_PRESENT,
  SECTION_TAINT_ZONE_DEVICE,
  type ReadonlyMachineState,
} from '../model/state.js';

type Section = NonNullable<ReturnType<ReadonlyMachineState['sections']['get']>>;

export const presentSection = (ms: Section | undefined): boolean => !!ms && (ms.flags & SECTION_MARKED_PRESENT) !== 0;
export const validSection = (ms: Section | undefined): boolean => !!ms && (ms.flags & SECTION_HAS_MEM_MAP) !== 0;
export const earlySection = (ms: Section | undefined): boolean => !!ms && (ms.flags & SECTION_IS_EARLY) !== 0;
export const onlineSection = (ms: Section | undefined): boolean => !!ms && (ms.flags & SECTION_IS_ONLINE) !== 0;
export const onlineDeviceSection = (ms: Section | undefined): boolean =>
  !!ms && (ms.flags & (SECTION_IS_ONLINE | SECTION_TAINT_ZONE_DEVICE)) === (SECTION_IS_ONLINE | SECTION_TAINT_ZONE_DEVICE);

/** pfn_section_valid: the pfn's sub-section bit is set. */
export function pfnSectionValid(s: ReadonlyMachineState, pfn: number): boolean {
  const ms = s.sectionTable[pfnToSectionNr(s.machine.geometry, pfn)];
  if (!ms) return false;
  return subsectionBitSet(s.machine.geometry, ms.subsectionMap, pfn);
}

/** The pfn lies beyond MAX_PHYSMEM_BITS (PHYS_PFN(PFN_PHYS(pfn)) ≠ pfn, or section ≥ NR_MEM_SECTIONS). */
const beyondPhysmem = (s: ReadonlyMachineState, pfn: number): boolean =>
  pfn < 0 || pfnToSectionNr(s.machine.geometry, pfn) >= s.machine.geometry.nrMemSections;

/**
 * pfn_valid (generic SPARSEMEM, 5.3+): a struct page exists. True for every pfn of an early section — holes
 * and clear sub-sections included — otherwise only where the sub-section bit is set.
 */
export function pfnValid(s: ReadonlyMachineState, pfn: number): boolean {
  if (beyondPhysmem(s, pfn)) return false;
  const ms = s.sectionTable[pfnToSectionNr(s.machine.geometry, pfn)];
  if (!validSection(ms)) return false;
  return earlySection(ms) || pfnSectionValid(s, pfn);
}

/**
 * pfn_to_online_page (mm/memory_hotplug.c): the struct page if it is online and initialised. No exemption for
 * early sections. In a ZONE_DEVICE-tainted section, a pfn covered by a dev_pagemap is not online memory;
 * `pgmapCovers` answers that (the ZONE_DEVICE model supplies it; default: nothing is covered).
 */
export function pfnToOnlinePage(s: ReadonlyMachineState, pfn: number, pgmapCovers: (pfn: number) => boolean = () => false): boolean {
  if (beyondPhysmem(s, pfn)) return false;
  const ms = s.sectionTable[pfnToSectionNr(s.machine.geometry, pfn)];
  if (!onlineSection(ms)) return false;
  if (!pfnSectionValid(s, pfn)) return false;
  if (!onlineDeviceSection(ms)) return true;
  return !pgmapCovers(pfn);
}

/** pfn_in_present_section. */
export function pfnInPresentSection(s: ReadonlyMachineState, pfn: number): boolean {
  if (beyondPhysmem(s, pfn)) return false;
  return presentSection(s.sectionTable[pfnToSectionNr(s.machine.geometry, pfn)]);
}
