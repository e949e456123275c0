/**
 * Memory providers: the extension point through which a kind of device memory (pmem, device-private, CXL
 * coherent memory, PCI P2P BARs, or a third party's) plugs into memremap_pages without touching the hotplug
 * core. It is the design seed 002 proposed and the kernel never adopted (apps/docs/kernel/index.md#sources): a **set-up** hook that
 * builds the altmap (where the memmap lives) and the rest of mhp_params, and a **construct** hook that
 * initialises the device's struct pages (the kernel's memmap_init_zone_device). The kernel instead hard-codes
 * these per pgmap type in mm/memremap.c; the built-in providers below reproduce exactly that (6.1).
 */
import type { PgmapType, PgmapTypeAlias } from '../api.js';
import type { ErrnoName } from '../kernel/errno.js';
import { alignDown } from '../model/geometry.js';
import type { MachineInfo } from '../model/state.js';
import type { PgmapState, PgProt } from './state.js';

/** What a caller asks memremap_pages for (one range). */
export interface MemremapRequest {
  readonly id: string;
  readonly nid: number;
  readonly startBytes: bigint;
  readonly sizeBytes: bigint;
  readonly type: PgmapType;
  /** Device-resident memmap (pmem "map=dev"): bytes reserved at the start (info block …) and bytes for the memmap. */
  readonly altmapReserveBytes?: bigint;
  readonly altmapFreeBytes?: bigint;
  /** Compound page order of the pgmap (vmemmap_shift). */
  readonly vmemmapShift?: number;
}

/** The set-up hook's answer: the mhp_params of this mapping. */
export interface ProviderSetUp {
  /** struct vmem_altmap fields, or null for a memmap in RAM. */
  readonly altmap: { readonly basePfn: number; readonly reserve: number; readonly free: number } | null;
  readonly pgprot: PgProt;
  readonly vmemmapShift: number;
  /** arch_add_memory (linear mapping) or add_pages only (device-private: the CPU cannot access the memory). */
  readonly linearMap: boolean;
}

export interface ProviderFailure {
  readonly errno: ErrnoName;
  readonly why: string;
}

export interface MemoryProvider {
  readonly name: string;
  /** The pgmap types it serves, by kernel name or alias (the last registered provider for a type wins). */
  readonly types: readonly (PgmapType | PgmapTypeAlias)[];
  /** Set-up hook: decide altmap, pgprot and geometry (pure: core records the answer as `device.setup`). */
  setUp(machine: Readonly<MachineInfo>, req: MemremapRequest): ProviderSetUp | ProviderFailure;
  /**
   * Construct hook: initialise the struct pages of [startPfn, startPfn + nrPages) for this pgmap (after the
   * altmap area). Returns the compound page size in pages for the log; core records it as `device.memmap_init`.
   */
  construct(pgmap: Readonly<PgmapState>, startPfn: number, nrPages: number): { readonly compoundPages: number };
}

const isFailure = (x: ProviderSetUp | ProviderFailure): x is ProviderFailure => 'errno' in x;
export { isFailure as isProviderFailure };

/** memmap_init_zone_device's geometry: 2^vmemmap_shift pages per compound page. */
const constructCompound = (pgmap: Readonly<PgmapState>) => ({ compoundPages: 2 ** pgmap.vmemmapShift });

/**
 * An altmap for a device-resident memmap (nvdimm_setup_pfn / the pfn device's info block, apps/docs/kernel/zone-device.md#pmem-altmap):
 * base = start rounded down to a sub-section, reserve = the reserved bytes plus the distance to that base.
 */
export function deviceAltmap(machine: Readonly<MachineInfo>, startBytes: bigint, reserveBytes: bigint, freeBytes: bigint): ProviderSetUp['altmap'] {
  const g = machine.geometry;
  const startPfn = Number(startBytes >> BigInt(g.pageShift));
  const basePfn = alignDown(startPfn, g.pagesPerSubsection);
  return {
    basePfn,
    reserve: Number(reserveBytes / BigInt(g.pageBytes)) + (startPfn - basePfn),
    free: Number(freeBytes / BigInt(g.pageBytes)),
  };
}

/** pmem namespaces through libnvdimm: fsdax (decrypted protection) and device-dax; "map=dev" when an altmap is asked for. */
export const pmemProvider: MemoryProvider = {
  name: 'pmem',
  types: ['MEMORY_DEVICE_FS_DAX', 'MEMORY_DEVICE_GENERIC'],
  setUp(machine, req) {
    const dev = req.altmapReserveBytes !== undefined || req.altmapFreeBytes !== undefined;
    return {
      altmap: dev ? deviceAltmap(machine, req.startBytes, req.altmapReserveBytes ?? 0n, req.altmapFreeBytes ?? 0n) : null,
      // memremap_pages: MEMORY_DEVICE_FS_DAX → pgprot_decrypted(PAGE_KERNEL)
      pgprot: req.type === 'MEMORY_DEVICE_FS_DAX' ? 'PAGE_KERNEL_decrypted' : 'PAGE_KERNEL',
      vmemmapShift: req.type === 'MEMORY_DEVICE_GENERIC' ? (req.vmemmapShift ?? 0) : 0,
      linearMap: true,
    };
  },
  construct: constructCompound,
};

/** HMM device-private memory (GPUs): no linear mapping, memmap in RAM (needs migrate_to_ram/page_free/owner). */
export const devicePrivateProvider: MemoryProvider = {
  name: 'device-private',
  types: ['MEMORY_DEVICE_PRIVATE'],
  setUp: (_m, req) =>
    req.altmapFreeBytes !== undefined ? { errno: 'EINVAL', why: 'device-private memory cannot hold its memmap (the CPU cannot access it)' } : { altmap: null, pgprot: 'PAGE_KERNEL', vmemmapShift: 0, linearMap: false },
  construct: constructCompound,
};

/** Coherent device memory (CXL type 2/3, CAPI): mapped like RAM but never onlined as System RAM. */
export const coherentProvider: MemoryProvider = {
  name: 'coherent',
  types: ['MEMORY_DEVICE_COHERENT'],
  setUp: (machine, req) => ({
    altmap: req.altmapFreeBytes !== undefined ? deviceAltmap(machine, req.startBytes, req.altmapReserveBytes ?? 0n, req.altmapFreeBytes) : null,
    pgprot: 'PAGE_KERNEL',
    vmemmapShift: 0,
    linearMap: true,
  }),
  construct: constructCompound,
};

/** A PCI BAR for peer-to-peer DMA: uncached mapping (pgprot_noncached). */
export const p2pdmaProvider: MemoryProvider = {
  name: 'p2pdma',
  types: ['MEMORY_DEVICE_PCI_P2PDMA'],
  setUp: () => ({ altmap: null, pgprot: 'PAGE_KERNEL_noncached', vmemmapShift: 0, linearMap: true }),
  construct: constructCompound,
};

export const BUILTIN_PROVIDERS: readonly MemoryProvider[] = [pmemProvider, devicePrivateProvider, coherentProvider, p2pdmaProvider];

// ---------------------------------------------------------------------------------------------------------
// pmem namespace layout (libnvdimm pfn_devs.c nd_pfn_init, 6.1; apps/docs/kernel/zone-device.md#pmem-altmap, apps/docs/kernel/zone-device.md#pmem-example)
// ---------------------------------------------------------------------------------------------------------

/** SZ_8K: the info block at the start of a pfn/dax namespace. */
export const PMEM_INFO_BLOCK_BYTES = 8192n;
/** MAX_STRUCT_PAGE_SIZE: the on-media memmap reserves 64 B per page whatever the running kernel's struct page. */
export const PMEM_MAX_STRUCT_PAGE_BYTES = 64n;

export interface PmemNamespaceLayout {
  readonly npfnsEstimate: number;
  readonly memmapReserveBytes: bigint;
  /** Offset of the data from the namespace start. */
  readonly dataOffsetBytes: bigint;
  readonly usablePfns: number;
  /** The altmap memremap_pages gets: reserve and free in pages. */
  readonly altmap: { readonly basePfn: number; readonly reserve: number; readonly free: number };
  /** The request fields that give exactly this altmap. */
  readonly altmapReserveBytes: bigint;
  readonly altmapFreeBytes: bigint;
}

/**
 * The layout of a namespace with its memmap on the device ("map=dev"): npfns = (size − 8 KiB)/P; reserve
 * 64 B × npfns; data offset = ALIGN_UP(start + 8 KiB + reserve, align) − start, align = max(namespace
 * alignment, memremap_compat_align); usable = (size − offset)/P.
 */
export function pmemNamespaceLayout(
  machine: Readonly<MachineInfo>,
  startBytes: bigint,
  sizeBytes: bigint,
  alignBytes: bigint = 2n << 20n,
  compatAlignBytes: bigint = 2n << 20n,
): PmemNamespaceLayout {
  const P = BigInt(machine.geometry.pageBytes);
  const npfns = (sizeBytes - PMEM_INFO_BLOCK_BYTES) / P;
  const reserve = PMEM_MAX_STRUCT_PAGE_BYTES * npfns;
  const align = alignBytes > compatAlignBytes ? alignBytes : compatAlignBytes;
  const end = startBytes + PMEM_INFO_BLOCK_BYTES + reserve;
  const dataOffset = ((end + align - 1n) / align) * align - startBytes;
  const freeBytes = dataOffset - PMEM_INFO_BLOCK_BYTES;
  return {
    npfnsEstimate: Number(npfns),
    memmapReserveBytes: reserve,
    dataOffsetBytes: dataOffset,
    usablePfns: Number((sizeBytes - dataOffset) / P),
    altmap: deviceAltmap(machine, startBytes, PMEM_INFO_BLOCK_BYTES, freeBytes)!,
    altmapReserveBytes: PMEM_INFO_BLOCK_BYTES,
    altmapFreeBytes: freeBytes,
  };
}
