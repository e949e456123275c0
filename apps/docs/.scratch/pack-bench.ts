import { openAsBlob } from 'node:fs';
import * as core from '@memhp/core';
import { loadViewerApi } from '../viewer/core-adapter.js';
import { LogSession } from '../viewer/session.js';
const api = loadViewerApi();
if ('missing' in api) throw new Error('missing');
const file = process.argv[2]!;
const s = new LogSession(api, await openAsBlob(file), file, { snapshotEvery: 10_000_000 });
await s.load();
const st = s.stateAfterLoad()! as any;
console.log('sizes', st.sections.table.length, st.blocks.table.length, st.altmaps.table.length, st.vmemmap.pmds.table.length, st.resources.length, st.resourceIndex.length, Object.keys(st.vmemmap.tables));
for (let r = 0; r < 3; r++) {
  const c0 = process.cpuUsage();
  let p: any;
  for (let i = 0; i < 10; i++) p = (core as any).packState(st);
  const c = process.cpuUsage(c0);
  console.log('pack ms/call cpu', ((c.user + c.system) / 10000).toFixed(1), 'bytes', p.bytes);
  const u0 = process.cpuUsage();
  let x = st;
  for (let i = 0; i < 10; i++) x = (core as any).unpackStateInto(p, x);
  const u = process.cpuUsage(u0);
  console.log('unpackInto ms/call cpu', ((u.user + u.system) / 10000).toFixed(1));
}
