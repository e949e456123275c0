/** CPU time read from /proc, for the viewer's CPU probes (Linux only). */
import { readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ 100

/** utime + stime of a /proc stat line, in ms (the fields after the command name, which may hold spaces). */
export function statCpuMs(stat: string): number {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}

/** utime+stime (ms) of every process that descends from the browser started with `profile`. */
export function browserCpuMs(profile: string): number {
  const ppid = new Map<number, number>();
  const cpu = new Map<number, number>();
  const named = new Set<number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      ppid.set(+d, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      cpu.set(+d, statCpuMs(stat));
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(profile)) named.add(+d);
    } catch {
      // gone
    }
  }
  // the browser: the process naming the profile whose parent does not (its children name it too, and once pids
  // wrap around a child can have a lower pid than the browser)
  const root = [...named].find((p) => !named.has(ppid.get(p) ?? 0)) ?? -1;
  let sum = 0;
  for (const [pid, ms] of cpu) {
    for (let p = pid; p > 1; p = ppid.get(p) ?? 0) {
      if (p === root) {
        sum += ms;
        break;
      }
    }
  }
  return sum;
}
