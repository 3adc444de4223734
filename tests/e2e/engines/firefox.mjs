// Drives Debian's firefox-esr over WebDriver BiDi with puppeteer-core, for tests/e2e/engines/drivers.py.
// One request per stdin line, one answer per stdout line, both JSON: {"op": ..., ...} -> {"ok": value} or
// {"error": message}. One browser for the whole run; `fresh` starts a new private profile (a BiDi user context).
import { createInterface } from 'node:readline';
import puppeteer from 'puppeteer-core';

const [executablePath, prefsJson] = process.argv.slice(2);
const browser = await puppeteer.launch({
  browser: 'firefox',
  executablePath,
  headless: true,
  extraPrefsFirefox: JSON.parse(prefsJson || '{}'),
});
let context = null;
let page = null;

const ops = {
  async fresh() {
    if (context) await context.close();
    context = await browser.createBrowserContext();
    page = await context.newPage();
    page.setDefaultTimeout(5000);
    page.setDefaultNavigationTimeout(10000);
  },
  goto: ({ url }) => page.goto(url, { waitUntil: 'load' }).then(() => null),
  eval: ({ js }) => page.evaluate(js),
  click: ({ css }) => page.click(css).then(() => null),
  type: ({ css, text }) => page.type(css, text).then(() => null),
  reload: () => page.reload({ waitUntil: 'load' }).then(() => null),
  // The page's cookies by domain (RFC 6265 domain-match): page.cookies() misses a cookie whose Domain is the
  // page's own host (".my-course.herokuapp.com" on my-course.herokuapp.com).
  async cookies() {
    const host = new URL(page.url()).hostname;
    return (await context.cookies()).filter(
      (c) => c.domain === host || (c.domain.startsWith('.') && `.${host}`.endsWith(c.domain)),
    );
  },
  setCookie: ({ url, name, value }) =>
    context.setCookie({ domain: new URL(url).hostname, path: '/', name, value }).then(() => null),
  viewport: ({ width, height }) => page.setViewport({ width, height }).then(() => null),
  async clearCookies() {
    const all = await context.cookies();
    if (all.length) await context.deleteCookie(...all);
    return null;
  },
  version: () => browser.version(),
};

const out = (answer) => process.stdout.write(JSON.stringify(answer) + '\n');
for await (const line of createInterface({ input: process.stdin })) {
  const request = JSON.parse(line);
  if (request.op === 'quit') break;
  try {
    const value = await ops[request.op](request);
    out({ ok: value === undefined ? null : value });
  } catch (e) {
    out({ error: String((e && e.message) || e) });
  }
}
await browser.close();
