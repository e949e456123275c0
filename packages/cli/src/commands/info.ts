/** `memhp archs`, `memhp params`, `memhp events`: what this memhp knows. */
import type { Command } from 'commander';
import { DEFAULT_KERNEL, type ArchBackend, type ArchConfig } from '@memhp/core';
import { examples } from '../program.js';
import { UserError } from '../errors.js';
import { archConfigFrom, env, optKernel } from './common.js';
import { formatSize } from '../parse/size.js';
import { printJson, table, paint } from '../render/output.js';
import { createCoreCatalogue, describeParams } from '@memhp/core';

interface ArchInfo {
  id: string;
  aliases: string[];
  displayName: string;
  pageSizes: string[];
  hugepageSizes: Record<string, string[]>;
  features: Array<{ name: string; default: string; description: string }>;
}

function archInfo(b: ArchBackend): ArchInfo {
  const hugepageSizes: Record<string, string[]> = {};
  for (const p of b.pageSizes) {
    const config: ArchConfig = { pageSizeBytes: p, structPageBytes: 64, kernel: DEFAULT_KERNEL, features: {} };
    try {
      hugepageSizes[formatSize(p)] = b.supports(config).supported ? b.hugepageSizes(config).map((h) => formatSize(h.bytes)) : [];
    } catch {
      hugepageSizes[formatSize(p)] = [];
    }
  }
  return {
    id: b.id,
    aliases: [...(b.aliases ?? [])],
    displayName: b.displayName,
    pageSizes: b.pageSizes.map(formatSize),
    hugepageSizes,
    features: b.features.map((f) => ({ name: f.name, default: f.default, description: f.description })),
  };
}

export function registerInfo(program: Command): void {
  program
    .command('archs')
    .description('list the architecture backends: ids, aliases, page sizes, HugeTLB sizes')
    .addHelpText('after', examples([['memhp archs', 'the built-in backends'], ['memhp --arch-module ./my-arch.js archs --json', 'include a third-party backend']]))
    .action(async (_o, cmd: Command) => {
      const { out, registry } = await env(cmd);
      const list = registry.all().map(archInfo);
      if (out.json) return printJson(out, { archs: list });
      const p = paint(out);
      if (list.length === 0) out.line('no arch backends are available in this build');
      out.line(
        table(
          out,
          ['arch', 'aliases', 'name', 'page sizes', `HugeTLB sizes (kernel ${DEFAULT_KERNEL})`],
          list.map((a) => [a.id, a.aliases.join(', '), a.displayName, a.pageSizes.join(' '), Object.entries(a.hugepageSizes).map(([pg, hs]) => `${pg}: ${hs.join(' ') || '-'}`).join('; ')]),
        ),
      );
      out.line(p.dim('\nArch switches per backend: memhp params --arch <arch>'));
    });

  program
    .command('params')
    .description('kernel parameters, sysctls and arch switches memhp models, with defaults and allowed values')
    .option('--arch <arch>', 'include this backend\'s switches (x86_64, arm64, …)')
    .option('--kernel <version>', 'kernel version: a series 5.10 … 6.18, or a stable release X.Y.Z')
    .addHelpText('after', examples([['memhp params', 'generic kernel parameters'], ['memhp params --arch arm64 --kernel 6.1 --json', 'with arm64 switches, as JSON']]))
    .action(async (o: { arch?: string; kernel?: string }, cmd: Command) => {
      const { out, registry } = await env(cmd);
      const kernel = optKernel(o.kernel);
      const backend = o.arch ? archConfigFrom(registry, { arch: o.arch }, kernel).backend : undefined;
      // core's describeParams: every parameter for this kernel (and the backend's switches), as the kernel has them.
      const rows = describeParams(kernel, backend).map((p) => ({
        name: p.name,
        scope: p.origin === 'core' ? 'kernel' : p.origin,
        kind: p.kind,
        default: p.default,
        allowed: p.allowed,
        exists: p.exists,
        ...(p.runtime ? { runtime: p.runtime } : {}),
        description: p.description,
        source: p.source,
      }));
      if (out.json) return printJson(out, { kernel, params: rows });
      out.line(
        table(
          out,
          ['name', 'scope', 'kind', 'default', 'allowed', 'description'],
          rows.map((r) => [r.exists ? r.name : `${r.name} (not in ${kernel})`, r.scope, r.kind, r.default, r.allowed, `${r.description}${r.runtime ? ` [${r.runtime.path}, ${r.runtime.mode}]` : ''}`]),
        ),
      );
    });

  program
    .command('events')
    .description('the event catalogue: every event type, its version and payload fields')
    .option('--type <type>', 'show one type with its full JSON Schema')
    .addHelpText('after', examples([['memhp events', 'every event type'], ['memhp events --type section.activate --json', 'one type\'s JSON Schema']]))
    .action(async (o: { type?: string }, cmd: Command) => {
      const { out } = await env(cmd);
      const cat = createCoreCatalogue();
      let list = cat.jsonSchemas();
      if (o.type) {
        list = list.filter((e) => e.type === o.type);
        if (list.length === 0) throw new UserError(`no event type "${o.type}"; see memhp events`, { field: '--type' });
      }
      if (out.json) return printJson(out, { events: list });
      out.line(
        table(
          out,
          ['type', 'v', 'payload fields', 'description'],
          list.map((e) => [e.type, e.version, Object.keys((e.schema as { properties?: object }).properties ?? {}).join(', '), e.description]),
        ),
      );
    });
}

