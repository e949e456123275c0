/** The Chromium the browser tests and the viewer's benches drive, the flags they start it with, and its start. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Headless, no sandbox (root in CI), and none of the browser's own network or update traffic. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

export interface ProfiledChromium {
  ctx: BrowserContext;
  /** The context's first page. */
  page: Page;
  /** The profile directory: every process of this browser names it (bench/proc-cpu.ts finds them by it). */
  profile: string;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/** Chromium on a fresh profile directory of its own (under the system's temp directory, named from `prefix`). */
export async function launchWithProfile(prefix: string, viewport?: { width: number; height: number }): Promise<ProfiledChromium> {
  const profile = mkdtempSync(join(tmpdir(), prefix));
  const remove = () => rmSync(profile, { recursive: true, force: true });
  let ctx: BrowserContext;
  try {
    ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, ...(viewport ? { viewport } : {}) });
  } catch (e) {
    remove();
    throw e;
  }
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  return {
    ctx,
    page,
    profile,
    async close() {
      await ctx.close();
      remove();
    },
  };
}
