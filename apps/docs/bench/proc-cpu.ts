/** CPU time read from /proc, for the viewer's CPU probes (Linux only). */
import { readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ 100

/** utime + stime of a /proc stat line, in ms (the fields after the command name, which may hold spaces). */
export function statCpuMs(stat: string): number {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

/** The processes on the machine: each one's parent, and its CPU (ms). */
function processes(): { ppid: Map<number, number>; cpu: Map<number, number>; named: (profile: string) => Set<number> } {
  const ppid = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      ppid.set(+d, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      cpu.set(+d, statCpuMs(stat));
    } catch {
      // gone
    }
  }
  const named = (profile: string): Set<number> => {
    const out = new Set<number>();
    for (const pid of ppid.keys()) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(profile)) out.add(pid);
      } catch {
        // gone
      }
    }
    return out;
  };
  return { ppid, cpu, named };
}

/**
 * The pids of the browser started with `profile` and of every process that descends from it. The browser is the
 * process naming the profile whose parent does not (its children name it too, and once pids wrap around a child can
 * have a lower pid than the browser: taking the first one found counted one renderer's threads alone).
 */
function browserPids(profile: string, p = processes()): number[] {
  const named = p.named(profile);
  const root = [...named].find((pid) => !named.has(p.ppid.get(pid) ?? 0)) ?? -1;
  return [...p.ppid.keys()].filter((pid) => {
    for (let q = pid; q > 1; q = p.ppid.get(q) ?? 0) if (q === root) return true;
    return false;
  });
}

/**
 * utime+stime (ms) of each thread of the browser started with `profile`, by "pid/tid name": a worker's thread is
 * its critical path, which the whole browser's CPU does not show (a worker beside it runs on the other core).
 */
export function browserThreadCpuMs(profile: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of browserPids(profile)) {
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        out.set(`${pid}/${tid} ${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}`, statCpuMs(stat));
      }
    } catch {
      // gone
    }
  }
  return out;
}

/** utime+stime (ms) of every process that descends from the browser started with `profile`. */
export function browserCpuMs(profile: string): number {
  const p = processes();
  return browserPids(profile, p).reduce((n, pid) => n + (p.cpu.get(pid) ?? 0), 0);
}
