/**
 * x86-64 HugeTLB sizes (apps/docs/kernel/hvo.md#sizes; arch/x86 arch_hugetlb_valid_size): 2 MiB (PMD) always, 1 GiB (PUD) only
 * with the CPU flag pdpe1gb. The default size (HPAGE_SIZE) is 2 MiB.
 */
import type { ArchConfig, HugepageSize } from '@memhp/core';
import { flag } from './features.js';
import { X86_PMD_SHIFT, X86_PUD_SHIFT } from './constants.js';

export function x86HugepageSizes(config: ArchConfig): readonly HugepageSize[] {
  const sizes: HugepageSize[] = [{ bytes: 1n << BigInt(X86_PMD_SHIFT), level: 'pmd' }];
  if (flag(config, 'pdpe1gb')) sizes.push({ bytes: 1n << BigInt(X86_PUD_SHIFT), level: 'pud', requiresFeature: 'pdpe1gb' });
  return sizes;
}

export const x86DefaultHugepageBytes = (): bigint => 1n << BigInt(X86_PMD_SHIFT);
