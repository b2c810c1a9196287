// A customer's own app, for tests: a small Node server on loopback that serves the page and
// the SDK's files from its own origin and has its own token endpoint, which mints through
// the API (POST /v1/tokens with the API key and secret, as a backend does) and answers in
// one of the shapes in use:
//   POST /token/id_token?user=U  → { success: true, data: { id_token, expires_in } }  (VocaFuse's browser SDKs)
//   POST /token/jwt_token?user=U → { data: { jwt_token, expires_in } }               (vocafuse-node passed through)
//   POST /token/token?user=U     → { token, expires_in }                             (this SDK's first shape)
// The page then calls the API on another origin (apiBaseUrl), as it would the hosted one.
import http from 'node:http';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SDK_DIR = process.env.VOCAFUSE_SDK_DIR || path.resolve(HERE, '../../build/sdk');
const PAGES_DIR = path.join(HERE, 'pages');

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm',
  '.json': 'application/json', '.ts': 'text/plain' };

export const TOKEN_SHAPES = {
  id_token: (t) => ({ success: true, data: { id_token: t.token, expires_in: t.expires_in } }),
  jwt_token: (t) => ({ data: { jwt_token: t.token, expires_in: t.expires_in } }),
  token: (t) => ({ token: t.token, expires_in: t.expires_in }),
};

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * @param {{ apiKey: string, apiSecret: string }} creds the API's key and secret
 * @returns {Promise<{ origin: string, tokenRequests: object[], setApi: (origin: string) => void, stop: () => Promise<void> }>}
 *   tokenRequests: what the token endpoint received ({ shape, user, method, contentType, body }).
 */
export async function startCustomerBackend({ apiKey, apiSecret }) {
  let api;
  const tokenRequests = [];
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://backend.invalid');
    try {
      const token = /^\/token\/(\w+)$/.exec(url.pathname);
      if (token) {
        const body = await readBody(req);
        const shape = token[1];
        const user = url.searchParams.get('user') || 'customer_user';
        tokenRequests.push({ shape, user, method: req.method, contentType: req.headers['content-type'], body });
        if (req.method !== 'POST' || !TOKEN_SHAPES[shape]) {
          res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":"no such token endpoint"}');
          return;
        }
        const minted = await fetch(`${api}/v1/tokens`, {
          method: 'POST',
          headers: { Authorization: `Basic ${Buffer.from(`${apiKey}:${apiSecret}`).toString('base64')}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ identity: user, expires_in: 600 }),
        });
        const answer = await minted.json();
        if (!minted.ok) {
          res.writeHead(502, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer));
          return;
        }
        res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end(JSON.stringify(TOKEN_SHAPES[shape](answer)));
        return;
      }
      const served = url.pathname.startsWith('/sdk/') ? [SDK_DIR, url.pathname.slice('/sdk/'.length)]
        : url.pathname.startsWith('/test/pages/') ? [PAGES_DIR, url.pathname.slice('/test/pages/'.length)] : null;
      const file = served && path.join(served[0], path.normalize(served[1]));
      if (!file || !file.startsWith(served[0] + path.sep) || req.method !== 'GET') {
        res.writeHead(404).end();
        return;
      }
      const bytes = await fsp.readFile(file);
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-store' });
      res.end(bytes);
    } catch (err) {
      if (!res.headersSent) res.writeHead(err.code === 'ENOENT' ? 404 : 500);
      res.end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    tokenRequests,
    setApi: (origin) => { api = origin; },
    stop: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections?.(); }),
  };
}
