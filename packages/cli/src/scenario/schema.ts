/**
 * The scenario file format (`memhp: 1`), as a TypeBox schema. It is the single source of truth: the loader
 * validates against it, and `pnpm --filter @memhp/cli gen:schema` writes the published JSON Schema
 * (schema/scenario.schema.json) from it, which editors use through `# yaml-language-server: $schema=…`.
 *
 * Names follow the kernel (online_type values, mhp_t flags, pgmap types) and issue 6's shape.
 */
import { PGMAP_TYPE_NAMES } from '@memhp/core';
import { type Static, type TSchema } from '@sinclair/typebox';
import { Type } from '@memhp/events';

const SIZE_PATTERN = '^(0[xX][0-9a-fA-F]+|[0-9]+\\s*([kKmMgGtTpPeE](i?B)?)?)$';

/** `4K`, `128M`, `2G`, plain bytes (number or string), `0x…`. */
export const Size = Type.Union(
  [Type.Integer({ minimum: 0 }), Type.String({ pattern: SIZE_PATTERN })],
  { title: 'size or address', description: 'bytes: 4K, 128M, 2G, 1T, a plain number, or 0x…', examples: ['128M', '2G', '0x100000000'] },
);

const Id = Type.String({ minLength: 1, description: 'a name you choose, used to refer to the device later' });
const Node = Type.Integer({ minimum: 0, description: 'NUMA node id' });

/** Memory block list: `32-39`, `32,34,40-41`, `7`, or a list of those. */
export const BlockList = Type.Union(
  [
    Type.Integer({ minimum: 0 }),
    Type.String({ pattern: '^\\s*\\d+(\\s*-\\s*\\d+)?(\\s*,\\s*\\d+(\\s*-\\s*\\d+)?)*\\s*$' }),
    Type.Array(Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^\\s*\\d+(\\s*-\\s*\\d+)?\\s*$' })]), { minItems: 1 }),
  ],
  { title: 'block list', description: 'memory block ids: 32-39, 32,34,40-41, 7, or a list' },
);

export const OnlineTypeSchema = Type.Union([Type.Literal('online'), Type.Literal('online_kernel'), Type.Literal('online_movable')], {
  description: 'online type written to memoryN/state (MMOP_*)',
});
export const MhpFlagSchema = Type.Union(
  [Type.Literal('merge_resource'), Type.Literal('memmap_on_memory'), Type.Literal('nid_is_mgid'), Type.Literal('offline_inaccessible')],
  { description: 'mhp_t flag of add_memory (MHP_*)' },
);
const PgmapTypeSchema = Type.Union(
  PGMAP_TYPE_NAMES.map((n) => Type.Literal(n)),
  { description: "dev_pagemap type: the kernel's enum memory_type name (MEMORY_DEVICE_PRIVATE, _COHERENT, _FS_DAX, _GENERIC, _PCI_P2PDMA) or a short alias (private, coherent, fsdax, devdax, generic, p2pdma …)" },
);
const Flags = Type.Array(MhpFlagSchema, { uniqueItems: true });

const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);

export const MachineSchema = Type.Object(
  {
    arch: Type.String({ description: 'x86_64 | arm64 (aliases x86, aarch64) | the id of a backend loaded with --arch-module', examples: ['x86_64', 'arm64'] }),
    pageSize: Type.Optional(Size),
    structPageSize: Type.Optional(Type.Integer({ minimum: 1, description: 'sizeof(struct page) in bytes: 56, 64, 72 or 80 (default 64)' })),
    kernel: Type.Optional(
      Type.String({
        examples: ['6.1', '6.12', '6.1.16'],
        description: 'kernel version, quoted: a series 5.10 … 6.18 ("6.1": its newest stable release) or a stable release ("6.1.16"); default 6.18',
      }),
    ),
    cmdline: Type.Optional(Type.String({ description: 'kernel command line, parsed the kernel\'s way' })),
    blockSize: Type.Optional(Size),
    features: Type.Optional(Type.Record(Type.String(), Scalar, { description: 'arch switches: CPU flags and arch parameters (memhp params --arch A)' })),
    sysctls: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), { description: 'runtime knobs applied right after boot' })),
    nodes: Type.Array(
      Type.Object(
        {
          id: Node,
          memory: Type.Optional(
            Type.Array(Type.Object({ start: Size, size: Size }, { additionalProperties: false }), { description: 'boot RAM of the node; holes allowed' }),
          ),
          reserved: Type.Optional(
            Type.Object(
              { DMA: Type.Optional(Size), DMA32: Type.Optional(Size), Normal: Type.Optional(Size), Movable: Type.Optional(Size) },
              {
                additionalProperties: false,
                description:
                  'bytes per zone the kernel reserves at boot beyond the memmap memhp computes (kernel image, firmware, crashkernel …): present but not managed; memhp import fills it from a real kernel',
                examples: [{ DMA: '632K', DMA32: '37684K', Normal: '49808K' }],
              },
            ),
          ),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
  },
  { additionalProperties: false },
);

/** One fault site (core's SiteFault): a rate, exact call numbers, and the errno it returns. */
export const SiteFaultSchema = Type.Object(
  {
    rate: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'probability that one call of the site fails' })),
    nth: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }), { description: '1-based call numbers that fail' })),
    errno: Type.Optional(Type.String({ pattern: '^E[A-Z0-9]+$', description: 'error the site returns (default: its natural error, usually ENOMEM)' })),
  },
  { additionalProperties: false },
);

/** Fault injection, as core's FaultConfig, plus the seed of its RNG. */
export const FaultsSchema = Type.Object(
  {
    seed: Type.Optional(Type.Integer({ minimum: 0, description: 'seed of the fault RNG (memhp run --seed overrides it)' })),
    pmdAllocFailRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'probability that a runtime PMD_SIZE vmemmap allocation fails' })),
    freePmdBlocks: Type.Optional(Type.Integer({ minimum: 0, description: 'fragmentation: only this many free PMD-sized blocks exist in the page allocator' })),
    order0FailRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'probability that an order-0 page allocation fails' })),
    slabFailRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'probability that a small kernel allocation fails' })),
    sites: Type.Optional(Type.Record(Type.String(), SiteFaultSchema, { description: 'per-site faults by name' })),
  },
  { additionalProperties: false, description: 'seeded fault injection' },
);

const Range = { start: Size, size: Size };

/** The payload of each step kind. The loader dispatches on the step's single key, so errors are precise. */
export const STEP_SCHEMAS = {
  plug_dimm: Type.Object({ id: Id, node: Node, size: Size, start: Type.Optional(Size) }, { additionalProperties: false, description: 'plug an ACPI memory device (placed like QEMU unless start is given)' }),
  unplug_dimm: Type.Object({ id: Id }, { additionalProperties: false, description: 'eject an ACPI memory device' }),
  online: Type.Object({ blocks: BlockList, type: Type.Optional(OnlineTypeSchema) }, { additionalProperties: false, description: 'write an online type to memoryN/state' }),
  offline: Type.Object({ blocks: BlockList }, { additionalProperties: false, description: 'write offline to memoryN/state' }),
  auto_online_blocks: Type.Union([OnlineTypeSchema, Type.Literal('offline')], { description: 'write /sys/devices/system/memory/auto_online_blocks' }),
  hugepages: Type.Object(
    { node: Type.Optional(Node), size: Type.Optional(Size), count: Type.Integer({ minimum: 0 }) },
    { additionalProperties: false, description: 'set nr_hugepages of a HugeTLB size (default size if omitted)' },
  ),
  sysctl: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
    minProperties: 1,
    description: 'write sysctls / module parameters, e.g. vm.hugetlb_optimize_vmemmap: 1',
  }),
  virtio_mem: Type.Object(
    {
      id: Id,
      node: Type.Optional(Node),
      start: Type.Optional(Size),
      region: Type.Optional(Size),
      requested: Size,
      blockSize: Type.Optional(Size),
    },
    { additionalProperties: false, description: 'create a virtio-mem device or change its requested size' },
  ),
  add_memory: Type.Object({ node: Node, ...Range, flags: Type.Optional(Flags) }, { additionalProperties: false, description: 'add_memory(nid, start, size, mhp_flags)' }),
  add_memory_driver_managed: Type.Object(
    { node: Node, ...Range, name: Type.Optional(Type.String({ pattern: '^System RAM \\(.+\\)$' })), flags: Type.Optional(Flags) },
    { additionalProperties: false, description: 'add_memory_driver_managed(nid, start, size, "System RAM (name)", flags)' },
  ),
  remove_memory: Type.Object(Range, { additionalProperties: false, description: 'remove_memory(start, size)' }),
  offline_and_remove_memory: Type.Object(Range, { additionalProperties: false, description: 'offline_and_remove_memory(start, size)' }),
  probe: Type.Object({ start: Size }, { additionalProperties: false, description: 'write to /sys/devices/system/memory/probe' }),
  memremap_pages: Type.Object(
    {
      id: Type.Optional(Id),
      node: Node,
      ...Range,
      type: PgmapTypeSchema,
      altmapReserve: Type.Optional(Size),
      altmapFree: Type.Optional(Size),
      vmemmapShift: Type.Optional(Type.Integer({ minimum: 0, maximum: 30, description: 'compound page order (9: 2M, 18: 1G on 4K)' })),
    },
    { additionalProperties: false, description: 'memremap_pages(): ZONE_DEVICE at 2 MiB sub-section granularity' },
  ),
  memunmap_pages: Type.Object(
    { id: Type.Optional(Id), start: Type.Optional(Size), size: Type.Optional(Size) },
    { additionalProperties: false, description: 'memunmap_pages() of a pgmap, by id or range' },
  ),
  dax_kmem: Type.Object(
    { id: Id, node: Node, ...Range, action: Type.Union([Type.Literal('online'), Type.Literal('offline')]) },
    { additionalProperties: false, description: 'bind/unbind a device-dax range to dax/kmem (System RAM (kmem))' },
  ),
  expect: Type.Object(
    {
      errno: Type.Optional(Type.Union([Type.String({ pattern: '^(ok|E[A-Z0-9]+)$' }), Type.Literal(0)], { description: 'result of the previous step: ok/0 or an errno name' })),
      meminfo: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Integer()]), { description: '"24684084 kB" absolute or "+129024 kB" since the previous expect' })),
      vmstat: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Integer()]), { description: 'pages: 512 absolute or "+512" since the previous expect' })),
      blocks: Type.Optional(
        Type.Record(
          Type.String(),
          Type.Object(
            {
              state: Type.Optional(Type.String()),
              valid_zones: Type.Optional(Type.String()),
              phys_index: Type.Optional(Type.String()),
              removable: Type.Optional(Type.Union([Type.String(), Type.Integer()])),
              exists: Type.Optional(Type.Boolean()),
            },
            { additionalProperties: false },
          ),
          { description: 'memory block sysfs attributes by block id or range ("32-39")' },
        ),
      ),
      zoneinfo: Type.Optional(
        Type.Record(Type.String(), Type.Record(Type.String(), Type.Union([Type.String(), Type.Integer()])), { description: 'by "node0/Normal": present, managed, spanned' }),
      ),
    },
    { additionalProperties: false, minProperties: 1, description: 'check the simulated kernel: exit 1 if it differs' },
  ),
} as const satisfies Record<string, TSchema>;

export type StepKind = keyof typeof STEP_SCHEMAS;
export const STEP_KINDS = Object.keys(STEP_SCHEMAS) as StepKind[];

export type StepOf<K extends StepKind> = Static<(typeof STEP_SCHEMAS)[K]>;

export const StepSchema = Type.Union(
  STEP_KINDS.map((k) => Type.Object({ [k]: STEP_SCHEMAS[k] }, { additionalProperties: false, required: [k] } as object)),
  { title: 'step' },
);

/** The whole scenario file. */
export const scenarioSchema = Type.Object(
  {
    memhp: Type.Literal(1, { description: 'scenario format version' }),
    name: Type.Optional(Type.String()),
    description: Type.Optional(Type.String()),
    machine: MachineSchema,
    faults: Type.Optional(FaultsSchema),
    steps: Type.Optional(Type.Array(StepSchema)),
  },
  {
    $id: 'https://memhp.dev/schema/scenario.schema.json',
    title: 'memhp scenario',
    description: 'A machine and the memory-hotplug steps to run on it (memhp run).',
    additionalProperties: false,
  },
);

export type Scenario = Static<typeof scenarioSchema>;
export type MachineInput = Static<typeof MachineSchema>;
