#!/usr/bin/env node
// The `memhp` command's launcher. It is committed (not built) so that the package manager can link the command
// when the workspace is installed, before the build has written dist/; it only loads the built entry point.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(
    'memhp: the command is not built yet (packages/cli/dist/bin.js is missing).\n' +
      'Build it from the repository root with: pnpm turbo run build --filter=@memhp/cli\n',
  );
  process.exit(2);
}
await import(entry.href);
