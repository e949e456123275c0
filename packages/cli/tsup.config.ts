import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMAND_MODULE_NAMES, type CommandModule } from './src/command-names.js';
import { defineConfig, type Options } from 'tsup';

type EsbuildPlugin = NonNullable<Options['esbuildPlugins']>[number];

/**
 * rxjs's exports send Node to its CommonJS build, one module per operator, all evaluated at load; its ES module
 * build lets the bundler keep only what @memhp/events uses (its package exports do not name that file, hence
 * the path). rxjs is resolved from @memhp/events, the package that depends on it.
 */
const rxjsEsm: EsbuildPlugin = {
  name: 'memhp-rxjs-esm',
  setup(build) {
    const fromEvents = createRequire(createRequire(import.meta.url).resolve('@memhp/events/package.json'));
    const esm = join(dirname(fromEvents.resolve('rxjs/package.json')), 'dist', 'esm', 'index.js');
    build.onResolve({ filter: /^rxjs$/ }, () => ({ path: esm }));
  },
};

/**
 * @memhp/events' imports of TypeBox's compiler, interpreter and errors go to src/bundle/typebox-lazy.ts, which loads
 * them (dist/typebox-full.cjs, built below) on first use: reading a valid log uses the checks generated at build
 * (src/generated/event-checks.ts), and `plan`, `check` read none, so most commands never parse those ~110 KB.
 * Only @memhp/events' imports: the scenario loader (`memhp run`) uses TypeBox's errors on every run.
 */
const lazyTypeboxForEvents: EsbuildPlugin = {
  name: 'memhp-lazy-typebox',
  setup(build) {
    const lazy = fileURLToPath(new URL('./src/bundle/typebox-lazy.ts', import.meta.url));
    build.onResolve({ filter: /^@sinclair\/typebox\/(compiler|errors|value)$/ }, (args) =>
      /[/\\]packages[/\\]events[/\\]src[/\\]/.test(args.importer) ? { path: lazy } : undefined,
    );
  },
};

type Plugin = NonNullable<Options['plugins']>[number];

/**
 * commander requires node:child_process at load, for executable subcommands (memhp has none); loading it pulls
 * in net, stream and more, tens of ms of a ~100 ms start. In the bundle, commander gets a stand-in that loads
 * the real module on first property access. (tsup marks built-ins external before an esbuild plugin sees them,
 * so this rewrites the emitted chunk.)
 */
const EAGER_CHILD_PROCESS = /var childProcess = (__require|require)\("(?:node:)?child_process"\);/;
const lazyChildProcessForCommander: Plugin = {
  name: 'memhp-lazy-child-process',
  renderChunk(code) {
    const m = EAGER_CHILD_PROCESS.exec(code);
    if (!m) return undefined;
    return {
      code: code.replace(m[0], `var childProcess = new Proxy({}, { get: (_target, key) => ${m[1]}("child_process")[key] });`),
    };
  },
};

/**
 * In the bundle of one command module, program.ts's imports of the other command modules stay out (they are never
 * reached: program.ts loads only the module argv names, and the binary picks this bundle by that same name).
 */
function onlyCommandModule(module: CommandModule): EsbuildPlugin {
  return {
    name: `memhp-only-${module}`,
    setup(build) {
      build.onResolve({ filter: /^\.\/commands\/[a-z-]+\.js$/ }, (args) =>
        /[/\\]src[/\\]program\.ts$/.test(args.importer) && args.path !== `./commands/${module}.js` ? { path: args.path, external: true } : undefined,
      );
    },
  };
}

/**
 * @memhp/fleet (NATS clients, the sweep machinery: ~0.5 MB) is imported on use, for a `nats://` log; a bundle without
 * splitting would hold it inline. Outside the sweep bundle it is dist/memhp-fleet.cjs, required when used.
 */
const fleetApart: EsbuildPlugin = {
  name: 'memhp-fleet-apart',
  setup(build) {
    build.onResolve({ filter: /^@memhp\/fleet$/ }, () => ({ path: './memhp-fleet.cjs', external: true }));
  },
};

/** What every CommonJS bundle of the binary shares (see the configs below). */
function binaryBundle(entry: Record<string, string>, esbuildPlugins: EsbuildPlugin[]): Options {
  return {
    entry,
    format: ['cjs'],
    outDir: 'dist',
    splitting: false,
    // No source maps: the bundles repeat what commands share (~12 MB in all), their maps would double it, and Node
    // reads none without --enable-source-maps; stack traces (--debug) name the bundle's own lines.
    sourcemap: false,
    clean: false,
    target: 'node20',
    platform: 'node',
    noExternal: [/^@memhp\//, 'rxjs', /^@sinclair\/typebox/, 'commander', 'yaml', 'picocolors', 'cli-table3', 'cli-progress'],
    external: ['@duckdb/node-api'],
    plugins: [lazyChildProcessForCommander],
    esbuildPlugins: [rxjsEsm, lazyTypeboxForEvents, ...esbuildPlugins],
    esbuildOptions(options) {
      options.conditions = ['@memhp/source'];
      // Sources written as ES modules find files beside themselves with import.meta.url.
      options.define = { ...options.define, 'import.meta.url': '__memhpImportMetaUrl' };
    },
    banner: { js: "const __memhpImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  };
}

export default defineConfig([
  // The library entry (@memhp/cli as a package): its dependencies stay external, as a library's should.
  {
    entry: ['src/index.ts'],
    format: ['esm'],
    dts: { entry: ['src/index.ts'] },
    sourcemap: true,
    clean: false,
    target: 'node20',
  },
  // The `memhp` binary, bundled for start-up. Node 20 spends most of a short command loading modules: resolving and
  // reading files (rxjs's CommonJS build alone is ~400), and for ES modules starting its ES module loader and
  // handling each file asynchronously. So the binary is CommonJS: dist/memhp.cjs answers --version and requires
  // one bundle per command module, dist/memhp-<module>.cjs, holding everything that command runs (built from the
  // workspace packages' sources, tree-shaken); dist/memhp-all.cjs has every command, for help and unknown names.
  // The bundles repeat what commands share: disk traded for one file per start.
  binaryBundle({ memhp: 'src/bundle/memhp.ts' }, []),
  binaryBundle({ 'memhp-all': 'src/bundle/command-main.ts' }, [fleetApart]),
  binaryBundle({ 'memhp-fleet': 'src/bundle/fleet.ts' }, []),
  ...(Object.keys(COMMAND_MODULE_NAMES) as CommandModule[]).map((module) =>
    binaryBundle({ [`memhp-${module}`]: 'src/bundle/command-main.ts' }, module === 'sweep' ? [onlyCommandModule(module)] : [onlyCommandModule(module), fleetApart]),
  ),
  // dist/bin.js, the binary's ES module path in earlier builds, and the DuckDB query worker (a process of its own).
  // DuckDB stays external: a native addon, loaded only by `memhp query`'s worker.
  {
    entry: { bin: 'src/bundle/bin-esm.ts', 'query-worker': 'src/query-worker.ts' },
    format: ['esm'],
    outDir: 'dist',
    splitting: true,
    sourcemap: true,
    clean: false,
    target: 'node20',
    platform: 'node',
    noExternal: [/^@memhp\//, 'rxjs', /^@sinclair\/typebox/],
    external: ['@duckdb/node-api'],
    esbuildPlugins: [rxjsEsm],
    esbuildOptions(options) {
      options.conditions = ['@memhp/source'];
    },
    // Bundled CommonJS dependencies call require() for Node built-ins; an ES module has none of its own.
    banner: { js: "import { createRequire as __memhpCreateRequire } from 'node:module';\nconst require = __memhpCreateRequire(import.meta.url);" },
  },
  // TypeBox's compiler, interpreter and errors in one CommonJS file, required on first use (lazyTypeboxForEvents).
  {
    entry: { 'typebox-full': 'src/bundle/typebox-full.ts' },
    format: ['cjs'],
    outDir: 'dist',
    clean: false,
    target: 'node20',
    platform: 'node',
    noExternal: [/^@sinclair\/typebox/],
  },
]);
