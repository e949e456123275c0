export { arm64Backend, STRUCT_PAGE_SIZES } from './backend.js';
export { arm64Constants, arm64VmemmapStart, structPageMaxShift, ARM64_PAGE_SIZES } from './constants.js';
export * from './rules.js';
export { arm64HugepageSizes, arm64DefaultHugepageBytes } from './hugetlb.js';
export { arm64VmemmapPopulate, arm64VmemmapFree, effectivePmdFailure } from './vmemmap.js';
export { ARM64_FEATURES, VMEMMAP_FALLBACKS, type VmemmapFallback } from './features.js';
import { arm64Backend } from './backend.js';
export { arm64Backend as backend };
export default arm64Backend;
