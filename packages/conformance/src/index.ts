/**
 * @memhp/conformance: run a scenario on a real Linux kernel in QEMU and on the model, and compare them field by
 * field (issue 17). Node-only: it starts processes and reads files. The `memhp conform` command (in @memhp/cli)
 * is its front end.
 */
export { parseKernelSpec, fetchKernel, fetchDebianKernel, fetchDebianPackage, guestBusybox, aarch64Firmware, elfMachineIs, cacheDir, hostMirror, type KernelSpec, type FetchedKernel, type ConformArch, type Aarch64Firmware } from './kernel-fetch.js';
export { buildInitramfs, resolveModules, agentScriptPath, type InitramfsOptions } from './initramfs.js';
export { Guest, qemuArgs, kvmUsable, AGENT_VIRTIO_PORT, type GuestShape, type GuestNode, type Accel } from './qemu.js';
export { Qmp, QmpError, type QmpEvent } from './qmp.js';
export { Agent, type AgentReply } from './agent-client.js';
export { parseReading, parseMeminfo, parseVmstat, parseZoneinfo, parseBlocks, splitSnap, type Reading, type ZoneReading, type BlockReading } from './readings.js';
export { compareReading, compareMessages, nodeList, FREE_DELTA_TOLERANCE_PAGES, type FieldRow, type Verdict } from './compare.js';
export {
  conformScenario,
  applyKnown,
  type KnownDifference,
  guestShape,
  notComparable,
  errnoFromText,
  knobPath,
  earlyNodeRanges,
  numaFallback,
  modelKernelVersion,
  type ConformScenario,
  type ConformResult,
  type ConformOptions,
  type StepResult,
} from './runner.js';
export { ConformanceInputError, ConformanceUnavailableError, GuestError } from './errors.js';
