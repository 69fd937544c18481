// Issue 28, item 1 in Chromium at 360 px with axe: a form teacher prints a sign-in badge for a
// pupil of his class (checked as printed: the cards only, on A4, a PDF in test-output/ to look
// at), and the pupil signs in by showing it to the camera: Chromium's fake camera plays a video
// of the printed QR code (a Y4M file made from the card the page printed), and the page's
// scanner (jsQR: Chromium has no BarcodeDetector on Linux) reads it and posts it. Without a
// camera the page says so and the password sign-in is still there.
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import QRCode from 'qrcode';
import { chromium as playwright, type Browser as Chromium, type Page } from 'playwright-core';
import { schoolYear } from '../../src/domain/classes/classes.ts';
import { decodeQr } from '../support/badges.ts';
import { CHROMIUM, Journey, launchChromium, OUTPUT } from '../support/chromium.ts';
import { DEMO, startTestIdp, type TestIdp } from '../support/idp.ts';

const YEAR = schoolYear(Date.now());
const JOURNEY = '28-badge';

async function click(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name, exact: true }).click();
}

/**
 * A Y4M video (what Chromium's fake camera plays, looping) of a QR code held in front of the
 * camera: 640 × 480, grey background, the code black on white, 8 px a module, a few frames.
 */
function qrVideo(value: string, file: string): void {
  const W = 640;
  const H = 480;
  const qr = QRCode.create(value, { errorCorrectionLevel: 'Q' });
  const n = qr.modules.size;
  const scale = 8;
  const quiet = 4;
  const side = (n + 2 * quiet) * scale;
  const x0 = Math.floor((W - side) / 2);
  const y0 = Math.floor((H - side) / 2);
  const luma = Buffer.alloc(W * H, 150);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const mx = Math.floor(x / scale) - quiet;
      const my = Math.floor(y / scale) - quiet;
      const dark = mx >= 0 && my >= 0 && mx < n && my < n && qr.modules.get(my, mx) === 1;
      luma[(y0 + y) * W + x0 + x] = dark ? 16 : 235;
    }
  }
  const chroma = Buffer.alloc((W / 2) * (H / 2), 128);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), luma, chroma, chroma]);
  writeFileSync(file, Buffer.concat([Buffer.from(`YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`), ...Array.from({ length: 10 }, () => frame)]));
}

describe('sign-in badges in Chromium (issue 28, item 1; 360 px, axe)', function () {
  this.timeout(180_000);
  let chromium: Chromium;
  let camera: Chromium | undefined;
  let t: TestIdp;
  before(async () => {
    chromium = await launchChromium();
    t = await startTestIdp({ host: 'localhost' });
  });
  after(async () => {
    await t?.close();
    await chromium?.close();
    await camera?.close();
  });

  it('a form teacher prints a badge; the pupil shows it to the camera and is signed in; without a camera the page says so', async () => {
    const j = await Journey.start(chromium, JOURNEY);
    const p = j.page;
    await p.goto(`${t.url}/portal`);
    await j.screen('sign-in-with-badge-button', 'MIMS Portal');
    // No camera here: the scanner says so, and the password form is still there.
    await click(p, 'Sign in with my badge');
    await p.getByRole('alert').filter({ hasText: 'The camera could not be opened' }).waitFor();
    await j.screen('no-camera', 'MIMS Portal');
    await click(p, 'Stop');
    // Daniel prints Allen's badge.
    await p.getByLabel('Username').fill(DEMO.staff.loginId);
    await p.getByLabel('Password').fill(DEMO.staff.password);
    await click(p, 'Sign in');
    await j.screen('portal', /Applications/);
    await p.goto(`${t.url}/admin/classes/DEMO01/${YEAR}/2A`);
    await j.screen('class-2a', `Class 2A (${YEAR})`);
    await p.locator('tr[data-login-id="allen_tan@students.edu.sg"] input[type=checkbox]').check();
    await click(p, 'Print Sign-in Badges');
    await j.screen('badges', 'Sign-in badges');
    const card = p.locator('article.badge-card');
    assert.equal(await card.count(), 1);
    assert.match(await card.innerText(), /Allen Tan[\s\S]*Rivervale Demo School · 2A/);
    const secret = decodeQr((await card.locator('img.badge-qr').getAttribute('src'))!);
    assert.match(secret, /^MIMS-BADGE:1:/);
    // As printed: the cards only, on A4.
    await p.emulateMedia({ media: 'print' });
    await p.setViewportSize({ width: 794, height: 1123 });
    assert.equal(await p.locator('header.masthead').isVisible(), false, 'no masthead on paper');
    assert.equal(await p.getByRole('button', { name: 'Print' }).isVisible(), false, 'no buttons on paper');
    await p.screenshot({ path: path.join(OUTPUT, JOURNEY, 'badges-as-printed.png'), fullPage: true });
    const pdf = path.join(OUTPUT, JOURNEY, 'badges.pdf');
    await p.pdf({ path: pdf, format: 'A4', printBackground: true, preferCSSPageSize: true });
    assert.ok(statSync(pdf).size > 1000);
    await j.close();

    // The pupil, on a classroom tablet whose camera sees the printed card.
    const video = path.join(OUTPUT, JOURNEY, 'camera.y4m');
    qrVideo(secret, video);
    camera = await playwright.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--host-resolver-rules=MAP localhost 127.0.0.1', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${video}`],
    });
    const k = await Journey.start(camera, `${JOURNEY}-pupil`);
    await k.context.grantPermissions(['camera'], { origin: t.url });
    await k.page.goto(`${t.url}/portal`);
    await k.screen('sign-in', 'MIMS Portal');
    await click(k.page, 'Sign in with my badge');
    await k.screen('signed-in-by-badge', /Applications/);
    assert.match(await k.page.locator('main').innerText(), /Allen Tan/);
    const events = await t.idp.audit.recent(5, (e) => e.type === 'signin.success' && e.reason === 'badge');
    assert.equal(events.length, 1);
    await k.close();
  });
});
