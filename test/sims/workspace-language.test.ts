// workspace-sim's own language switcher (issue 28): it speaks the language chosen on it,
// over the browser's Accept-Language, on every page that has the switcher.
import assert from 'node:assert/strict';
import { MultiBrowser } from '../support/multi-browser.ts';
import { startTestIdp, type TestIdp } from '../support/idp.ts';
import { workspaceSim, type RunningWorkspaceSim } from '../support/saml.ts';

describe('workspace-sim: its own language switcher', () => {
  let t: TestIdp;
  let ws: RunningWorkspaceSim;
  before(async () => {
    ws = await workspaceSim();
    t = await startTestIdp({ serviceProviders: [ws.sp] });
    await ws.start(t.url);
  });
  after(async () => {
    await ws.close();
    await t.close();
  });

  it('switches to the language chosen and keeps it; a return path elsewhere is refused', async () => {
    const b = new MultiBrowser(t.url, ws.url);
    const home = await b.open(`${ws.url}/`);
    assert.match(home.res.text, /<html lang="en-SG"/);
    assert.match(home.res.text, /href="\/language\/ta\?return=%2F"/, 'the switcher');
    const tamil = await b.open(`${ws.url}/language/ta?return=/`);
    assert.match(tamil.res.text, /<html lang="ta-SG"/);
    assert.match((await b.open(`${ws.url}/`)).res.text, /<html lang="ta-SG"/, 'remembered');
    const away = await b.open(`${ws.url}/language/zh?return=//evil.example/`);
    assert.ok(away.url.startsWith(ws.url), `stays on the app: ${away.url}`);
    assert.match(away.res.text, /<html lang="zh-Hans-SG"/);
  });
});
