/**
 * Both first-party backends pass the kit on every page size and every supported kernel (issue 4, "Done when").
 * x86 also runs with every struct page size: its per-PMD fallback and sub-PMD tracking must stay well-formed
 * when memmaps share PMDs (apps/docs/kernel/vmemmap.md#x86-sub-pmd).
 */
import { x86Backend } from '@memhp/arch-x86';
import { arm64Backend } from '@memhp/arch-arm64';
import { describeConformance } from '../src/vitest.js';

describeConformance(x86Backend, { structPageSizes: [56, 64, 72, 80] });
describeConformance(x86Backend, { features: { pse: false }, kernels: ['5.10', '6.1', '6.18'] });
describeConformance(x86Backend, { features: { la57: true }, kernels: ['6.1'] });
describeConformance(arm64Backend);
describeConformance(arm64Backend, { features: { vmemmapFallback: 'redo-all' }, kernels: ['5.10', '6.1', '6.18'] });
