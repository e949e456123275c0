import type { KernelVersion } from './version.js';

/**
 * Runs of consecutive kernels with the same answer: `explain` answers for one kernel (null leaves the kernel out),
 * `key` says when two answers are the same. The across-kernels tables of the explain APIs are built from these.
 */
export function runsOfSameAnswer<E>(
  kernels: readonly KernelVersion[],
  explain: (kernel: KernelVersion) => E | null,
  key: (explanation: E) => string,
): { kernels: KernelVersion[]; explanation: E }[] {
  const rows: { kernels: KernelVersion[]; explanation: E; key: string }[] = [];
  for (const kernel of kernels) {
    const explanation = explain(kernel);
    if (explanation === null) continue;
    const k = key(explanation);
    const last = rows[rows.length - 1];
    if (last && last.key === k) last.kernels.push(kernel);
    else rows.push({ kernels: [kernel], explanation, key: k });
  }
  return rows.map(({ kernels: k, explanation }) => ({ kernels: k, explanation }));
}
