// Measures what the jobs page moves over the network while it sits idle:
// 1,000 jobs (each with a ~1 MB script on one of them, as in issue 14),
// the page open on its first 50, for 60 seconds, counted by Chromium's
// DevTools (bytes on the wire: compressed bodies and headers).
//
//   node ui-tests/bench-jobs-idle.js            (after scripts/browser-tests has built the binary)
//   IDLE_SECONDS=20 JOBS=200 node ui-tests/bench-jobs-idle.js
//
// Prints one JSON line; nothing is asserted.

import { launch, signIn, startServer } from './harness.js';

const JOBS = Number(process.env.JOBS || 1000);
const IDLE_SECONDS = Number(process.env.IDLE_SECONDS || 60);

const server = await startServer();
const browser = await launch();
try {
  for (let i = 0; i < JOBS; i++) {
    const script = i === 0 ? `// ${'x'.repeat(1_000_000)}\nreturn 1;\n` : "console.log('hello');\nreturn 1;\n";
    await server.api('POST', '/jobs', { name: `job-${String(i).padStart(4, '0')}`, schedule: { cron: '0 3 * * *', timezone: 'UTC' }, script });
  }
  const page = await (await browser.newContext({ baseURL: server.url })).newPage();
  await signIn(page);
  await page.getByRole('link', { name: 'job-0049' }).waitFor();
  await page.waitForLoadState('networkidle');

  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const requests = new Map();
  cdp.on('Network.responseReceived', (e) => requests.set(e.requestId, { url: e.response.url, status: e.response.status }));
  cdp.on('Network.loadingFinished', (e) => {
    const r = requests.get(e.requestId);
    if (r) r.bytes = e.encodedDataLength;
  });
  await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
  const api = [...requests.values()].filter((r) => r.url.includes('/api/v1/jobs'));
  const bytes = api.reduce((sum, r) => sum + (r.bytes ?? 0), 0);
  console.log(
    JSON.stringify({
      jobs: JOBS,
      idle_seconds: IDLE_SECONDS,
      refreshes: api.length,
      statuses: [...new Set(api.map((r) => r.status))],
      bytes_transferred: bytes,
    }),
  );
} finally {
  await browser.close();
  await server.stop();
}
