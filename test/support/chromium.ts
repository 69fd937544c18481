// A real browser for journeys: Debian's Chromium (/usr/bin/chromium, installed by
// .ci/run) driven by playwright-core, headless, 360 px wide. Every screen of a journey is
// saved as a screenshot under test-output/journeys/<journey>/ (ignored by git), checked
// with axe-core run inside the page (no serious or critical violation), and checked for
// fitting the narrow viewport (no horizontal scrolling).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { projectRoot } from '../../src/config/settings.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const OUTPUT = path.join(projectRoot, 'test-output/journeys');
export const VIEWPORT = { width: 360, height: 780 };

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium; .ci/run does it) or set CHROMIUM_PATH`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // As the machine's own probe runs it: no sandbox as root, and no calls to Google's
    // services (this network is closed).
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP localhost 127.0.0.1'],
  });
}

interface AxeResult {
  violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[] }> }>;
}

/** One user's journey: a browser context and the screens it passes. */
export class Journey {
  readonly name: string;
  readonly context: BrowserContext;
  readonly page: Page;
  readonly screens: string[] = [];
  #count = 0;

  private constructor(name: string, context: BrowserContext, page: Page) {
    this.name = name;
    this.context = context;
    this.page = page;
  }

  /** `locale` is the browser's language (its Accept-Language); English by default. */
  static async start(browser: Browser, name: string, locale = 'en-SG'): Promise<Journey> {
    const dir = path.join(OUTPUT, name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const context = await browser.newContext({ viewport: VIEWPORT, locale });
    context.setDefaultTimeout(15_000);
    return new Journey(name, context, await context.newPage());
  }

  /**
   * Records the screen the page shows now: waits for `heading` (a string or pattern in the
   * page's h1), saves a screenshot, and checks accessibility and the 360 px layout.
   */
  async screen(label: string, heading: string | RegExp): Promise<void> {
    // Wait for the page that has this heading (hand-off pages submit themselves meanwhile).
    const wanted = typeof heading === 'string' ? { source: `^${heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, flags: '' } : { source: heading.source, flags: heading.flags };
    try {
      await this.page.waitForFunction(
        (w) => new RegExp(w.source, w.flags).test((document.querySelector('h1')?.textContent ?? '').trim()),
        wanted,
        { timeout: 15_000 },
      );
      await this.page.waitForLoadState('load');
    } catch {
      const h1 = await this.page.locator('h1').first().textContent().catch(() => null);
      assert.fail(`${this.name}/${label}: expected heading ${String(heading)}, page ${this.page.url()} shows ${JSON.stringify(h1)}`);
    }
    this.#count += 1;
    const file = `${String(this.#count).padStart(2, '0')}-${label}.png`;
    await this.page.screenshot({ path: path.join(OUTPUT, this.name, file), fullPage: true });
    this.screens.push(file);

    // WCAG 2.2 SC 2.5.8 (target size, minimum), which axe does not measure: every visible
    // control at least 24 × 24 CSS px, except a link inside a sentence (the SC's inline exception).
    const small = await this.page.evaluate(() => {
      const out: string[] = [];
      // The IdP's own pages (its stylesheet); the simulated apps stand for other people's apps.
      if (!document.querySelector('link[href="/static/idp.css"]')) return out;
      for (const el of Array.from(document.querySelectorAll<HTMLElement>('a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], [tabindex]:not([tabindex="-1"])'))) {
        const box = el.getBoundingClientRect();
        if (box.width === 0 || box.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
        if (el.tagName === 'TABLE') continue; // a scrollable table region, not a target
        // Inline: a link whose block holds other text (a sentence), not a link on its own.
        if (el.tagName === 'A' && getComputedStyle(el).display === 'inline') {
          const block = el.parentElement;
          const rest = (block?.textContent ?? '').replace(el.textContent ?? '', '').replace(/[\s·|,.;:()]/g, '');
          if (rest.length > 0) continue;
        }
        if (box.width < 24 || box.height < 24) out.push(`${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''} "${(el.textContent ?? (el as HTMLInputElement).value ?? '').trim().slice(0, 30)}" ${Math.round(box.width)}×${Math.round(box.height)}`);
      }
      return out;
    });
    assert.deepEqual(small, [], `${this.name}/${label}: targets under 24 × 24 px (WCAG 2.2 SC 2.5.8)`);

    const overflow = await this.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${this.name}/${label}: wider than ${VIEWPORT.width} px by ${overflow} px`);

    // axe-core is evaluated through the DevTools protocol, which the page's CSP does not govern.
    await this.page.evaluate(axeSource);
    const result = (await this.page.evaluate(() =>
      (globalThis as unknown as { axe: { run: (ctx: Document, opts: unknown) => Promise<unknown> } }).axe.run(document, {
        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
        resultTypes: ['violations'],
      }),
    )) as AxeResult;
    const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(
      serious.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`),
      [],
      `${this.name}/${label}: accessibility`,
    );
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}

/**
 * The fonts Chromium draws an element's text with (DevTools protocol), e.g. to prove that
 * Tamil or Chinese text is not drawn as boxes by a font that lacks the script.
 */
export async function fontsDrawing(page: Page, selector: string): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send('DOM.enable');
    await cdp.send('CSS.enable');
    const { root } = await cdp.send('DOM.getDocument', { depth: -1 });
    const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
    const { fonts } = await cdp.send('CSS.getPlatformFontsForNode', { nodeId });
    return fonts.filter((f) => f.glyphCount > 0).map((f) => f.familyName);
  } finally {
    await cdp.detach();
  }
}
