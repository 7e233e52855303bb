// Writes docs/demo.png: the demo page after training AVB with its default settings.
// Usage: npm run build:web && node scripts/demo-screenshot.mjs [steps]   (Debian's chromium)
import { chromium } from 'playwright-core';
import { preview } from 'vite';

const steps = Number(process.argv[2] ?? 3000);
const server = await preview({
  configFile: 'web/vite.config.ts',
  preview: { port: 0, host: '127.0.0.1' },
});
const browser = await chromium.launch({
  executablePath: process.env.AVB_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  await page.goto(server.resolvedUrls.local[0]);
  await page.waitForFunction(
    () => globalThis.avbDemo.ready && globalThis.avbDemo.llHistory.length > 0,
  );
  await page.click('#start');
  await page.waitForFunction(
    (n) => {
      const h = globalThis.avbDemo.llHistory;
      return h.length > 0 && h[h.length - 1][0] >= n;
    },
    steps,
    { timeout: 0 },
  );
  await page.click('#start'); // pause, so the figure and the numbers agree
  await page.waitForTimeout(500);
  await page.screenshot({ path: 'docs/demo.png' });
  const h = await page.evaluate(() => globalThis.avbDemo.llHistory.at(-1));
  process.stdout.write(`docs/demo.png: step ${h[0]}, log-likelihood ${h[1].toFixed(3)}\n`);
} finally {
  await browser.close();
  await server.close();
}
