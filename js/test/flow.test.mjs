// The SDK on VocaFuse's upload flow in Chromium and Firefox (WebKit: webkit.test.mjs): a
// recording goes POST /v1/upload, then PUT to the presigned URL (the requests seen from the
// page and in the server's log), with the customer's token endpoint in each shape in use; a
// file over 5 MB goes multipart and is stored byte for byte; and through a stand-in for
// object storage (s3-standin.mjs) the SDK delivers through a SlowDown and an expired URL,
// and the page never sees its XML.
import { after, before, describe, test } from 'node:test';

import { browsers, closePage } from './harness.mjs';
import {
  multipartScenario, puppeteerDriver, standInExpiredScenario, standInMultipartScenario, standInSlowDownScenario,
  startFlowRig, tokenShapeScenario,
} from './flow-scenarios.mjs';
import { pageWithMicrophone } from './support.mjs';

let rig;
before(async () => { rig = await startFlowRig(); });
after(async () => { await rig?.stop(); });

for (const { name, launch } of browsers()) {
  describe(name, () => {
    let browser;
    before(async () => { browser = await launch(); });
    after(async () => { await browser?.close(); });

    // A fresh context (a new visitor), the microphone granted on every origin the test uses.
    async function withPage(run) {
      const page = await pageWithMicrophone(browser, [rig.server.origin, rig.s3Server.origin, rig.backend.origin]);
      try {
        await run(puppeteerDriver(page));
      } finally {
        await closePage(page);
      }
    }

    for (const shape of ['id_token', 'jwt_token', 'token']) {
      test(`the token endpoint answers { ${shape === 'id_token' ? 'success, data: { id_token }' : shape === 'jwt_token' ? 'data: { jwt_token }' : 'token'} }: recorded, POST /v1/upload, PUT, stored as its owner`, () =>
        withPage((drv) => tokenShapeScenario(drv, rig, shape, `customer_${shape}_${name}`)));
    }

    test('a 6.7 MB file given to sdk.upload() goes in two parts and is stored byte for byte', { timeout: 180_000 }, () =>
      withPage((drv) => multipartScenario(drv, rig)));

    test('through the object-storage stand-in: a SlowDown, then delivered; no XML for the page', () =>
      withPage((drv) => standInSlowDownScenario(drv, rig)));

    test('through the object-storage stand-in: an expired URL → asked again with the same key, delivered', () =>
      withPage((drv) => standInExpiredScenario(drv, rig)));

    test('through the object-storage stand-in: a file in two parts, one slowed down, stored byte for byte', { timeout: 180_000 }, () =>
      withPage((drv) => standInMultipartScenario(drv, rig)));
  });
}
