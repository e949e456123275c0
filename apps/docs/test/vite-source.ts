/**
 * The viewer's modules served from source by Vite (no site build), for tests and probes that run one module in real
 * Chromium: the page at the returned url can `import('/viewer/gunzip.ts')`, and has a file input (`#file`) to hand it files
 * as the viewer's file picker gets them (a fetch of a .gz file from Vite would arrive decompressed: it says
 * Content-Encoding gzip).
 */
import { resolve } from 'node:path';
import { createServer } from 'vite';

const docsDir = resolve(import.meta.dirname, '..');
const repo = resolve(docsDir, '../..');

export async function startViteSource(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = await createServer({
    root: docsDir,
    configFile: false,
    logLevel: 'error',
    clearScreen: false,
    appType: 'custom',
    optimizeDeps: { include: ['pako'], noDiscovery: true },
    server: { host: '127.0.0.1', port: 0, hmr: false, watch: null, fs: { allow: [repo, '/tmp'] } },
  });
  // an empty page on the server's origin to run the imports in (appType 'custom' serves no html of its own)
  server.middlewares.use('/blank.html', (_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end('<!doctype html><title>blank</title><input type="file" id="file">');
  });
  await server.listen();
  const addr = server.httpServer!.address();
  if (!addr || typeof addr === 'string') throw new Error('vite: no port');
  return { url: `http://127.0.0.1:${addr.port}/blank.html`, close: () => server.close() };
}
