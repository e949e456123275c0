/** The third-party backend runs the same kit as the first-party ones, with one call. */
import { describeConformance } from '@memhp/arch-testkit/vitest';
import backend from '../src/index.js';

describeConformance(backend, { kernels: ['6.11', '6.18'], structPageSizes: [56, 64, 72, 80] });
describeConformance(backend, { kernels: ['6.18'], features: { hugeVmap: false, satp: 'sv39' } });
