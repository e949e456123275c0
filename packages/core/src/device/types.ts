/**
 * ZONE_DEVICE page-map types by the kernel's own names: `enum memory_type` of include/linux/memremap.h (6.1, and
 * the same five in later trees; apps/docs/kernel/zone-device.md#pgmap-types). Scenarios, events and reports name a type this way; the short
 * names memhp used before (`private`, `coherent`, `fsdax`, `devdax`, `p2pdma`) and the enum names without
 * their `MEMORY_DEVICE_` prefix are accepted as aliases on input, and events written with them still replay
 * (their v1 payloads upcast to these names).
 */

/** The enum's members in its order (values 1…5; 0 is reserved for an uninitialised type). */
export const PGMAP_TYPES = ['MEMORY_DEVICE_PRIVATE', 'MEMORY_DEVICE_COHERENT', 'MEMORY_DEVICE_FS_DAX', 'MEMORY_DEVICE_GENERIC', 'MEMORY_DEVICE_PCI_P2PDMA'] as const;

/** A ZONE_DEVICE page-map type, as the kernel names it. */
export type PgmapType = (typeof PGMAP_TYPES)[number];

/** The names memhp's scenarios and v1 events used, which remain accepted. */
export type PgmapTypeAlias = 'private' | 'coherent' | 'fsdax' | 'devdax' | 'p2pdma';

/** Short names accepted on input, each for its kernel name (lower case; matching ignores case). */
export const PGMAP_TYPE_ALIASES: Readonly<Record<string, PgmapType>> = {
  private: 'MEMORY_DEVICE_PRIVATE',
  coherent: 'MEMORY_DEVICE_COHERENT',
  fsdax: 'MEMORY_DEVICE_FS_DAX',
  fs_dax: 'MEMORY_DEVICE_FS_DAX',
  // device-dax; named MEMORY_DEVICE_DEVDAX until the kernel renamed it (5.10)
  devdax: 'MEMORY_DEVICE_GENERIC',
  generic: 'MEMORY_DEVICE_GENERIC',
  p2pdma: 'MEMORY_DEVICE_PCI_P2PDMA',
  pci_p2pdma: 'MEMORY_DEVICE_PCI_P2PDMA',
};

/** Every name {@link parsePgmapType} accepts: the kernel's first, then the aliases. */
export const PGMAP_TYPE_NAMES: readonly string[] = [...PGMAP_TYPES, ...Object.keys(PGMAP_TYPE_ALIASES)];

/** The kernel's name for a type named either way (case-insensitive), or undefined for an unknown name. */
export function parsePgmapType(name: string): PgmapType | undefined {
  const upper = name.toUpperCase();
  if ((PGMAP_TYPES as readonly string[]).includes(upper)) return upper as PgmapType;
  return PGMAP_TYPE_ALIASES[name.toLowerCase()];
}
