/**
 * What the fleet bench tools read about processes, in one place: user+system CPU of a process or of each of its
 * threads from /proc (Linux), a process's children, and the median the benches judge by.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const TICK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** utime + stime of a /proc stat line, in seconds (the fields after the command name, which may hold spaces). */
function statCpu(stat: string): number {
  const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK;
}

/** User+system CPU seconds of a process, all its threads (0 once it is gone). */
export function cpuSeconds(pid: number | 'self'): number {
  try {
    return statCpu(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return 0;
  }
}

/**
 * User+system CPU seconds of this process and of its children that have ended and been waited for (with theirs in
 * turn): a `memhp sweep` the caller ran to its end counts whole, with the local pool's workers it started.
 */
export function selfAndEndedChildrenCpu(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK;
}

/** User+system CPU seconds of a process's main thread and of its other threads together (V8's helpers, libuv's pool). */
export function threadCpu(pid: number | 'self'): { main: number; helpers: number } {
  let main = 0;
  let helpers = 0;
  try {
    const self = pid === 'self' ? process.pid : pid;
    for (const tid of readdirSync(`/proc/${self}/task`)) {
      const c = statCpu(readFileSync(`/proc/${self}/task/${tid}/stat`, 'utf8'));
      if (Number(tid) === self) main += c;
      else helpers += c;
    }
  } catch {
    // gone
  }
  return { main, helpers };
}

/** CPU seconds the whole machine has been busy (all cores: user, nice, system, irq, softirq, steal; /proc/stat). */
export function machineBusy(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) / TICK;
}

export function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)]).toString().trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The middle value (the upper middle of an even count). */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
