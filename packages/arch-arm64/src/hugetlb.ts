/**
 * arm64 HugeTLB sizes per granule (arch_hugetlb_valid_size; apps/docs/kernel/hvo.md#sizes and Documentation/mm/vmemmap_dedup.rst):
 * 4K: 64K (cont-PTE), 2M (PMD), 32M (cont-PMD), 1G (PUD); 16K: 2M (cont-PTE), 32M (PMD), 1G (cont-PMD);
 * 64K: 2M (cont-PTE), 512M (PMD), 16G (cont-PMD). The default size (HPAGE_SIZE) is the PMD size.
 */
import type { ArchConfig, HugepageSize } from '@memhp/core';

const K = 1n << 10n;
const M = 1n << 20n;
const G = 1n << 30n;

const SIZES: Readonly<Record<number, readonly HugepageSize[]>> = {
  4096: [
    { bytes: 64n * K, level: 'cont-pte' },
    { bytes: 2n * M, level: 'pmd' },
    { bytes: 32n * M, level: 'cont-pmd' },
    { bytes: 1n * G, level: 'pud' },
  ],
  16384: [
    { bytes: 2n * M, level: 'cont-pte' },
    { bytes: 32n * M, level: 'pmd' },
    { bytes: 1n * G, level: 'cont-pmd' },
  ],
  65536: [
    { bytes: 2n * M, level: 'cont-pte' },
    { bytes: 512n * M, level: 'pmd' },
    { bytes: 16n * G, level: 'cont-pmd' },
  ],
};

export const arm64HugepageSizes = (config: ArchConfig): readonly HugepageSize[] => SIZES[config.pageSizeBytes] ?? [];

export function arm64DefaultHugepageBytes(config: ArchConfig): bigint {
  const pmd = arm64HugepageSizes(config).find((s) => s.level === 'pmd');
  if (!pmd) throw new Error(`arm64 has no ${config.pageSizeBytes}-byte granule`);
  return pmd.bytes;
}
