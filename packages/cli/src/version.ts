/** The package version, read once from package.json (works from src/ and from dist/). */
import { createRequire } from 'node:module';

export const VERSION: string = (() => {
  try {
    return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();
