// A real OpenID provider on 127.0.0.1 for the test suite and the benchmarks.
//
// Started by tests/peers_fixtures.py with `node oidc_provider.mjs`; prints one line
// `READY <issuer>` once listening on a random port. Short token lifetimes come from the
// environment so that expiry and refresh are exercised for real:
//   OIDC_ACCESS_TTL   access-token lifetime in seconds (default 60)
//   OIDC_DEVICE_TTL   device-code lifetime in seconds (default 120)
//   OIDC_INTERVAL     device polling interval in seconds (default 1)
// Clients are fixed (see CLIENTS below). GET /_test/stats returns how many token requests
// the provider served, by grant type, so a benchmark can count token fetches at the peer.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const accessTtl = Number(process.env.OIDC_ACCESS_TTL || 60);
const deviceTtl = Number(process.env.OIDC_DEVICE_TTL || 120);
const interval = Number(process.env.OIDC_INTERVAL || 1);
const RESOURCE = 'urn:interlink:test-api';

const CLIENTS = [
  // Service clients (client credentials): secret in the Authorization header or in the body.
  { client_id: 'svc-basic', client_secret: 'svc-basic-secret', grant_types: ['client_credentials'],
    response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' },
  { client_id: 'svc-post', client_secret: 'svc-post-secret', grant_types: ['client_credentials'],
    response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_post' },
  // Terminal users (device login): a public client (PKCE, no secret) and a confidential one.
  { client_id: 'cli-public', grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    response_types: [], redirect_uris: [], token_endpoint_auth_method: 'none' },
  { client_id: 'cli-confidential', client_secret: 'cli-confidential-secret',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_post' },
];

// byAuth: how clients authenticated at the token endpoint; lastScope: the scope sent with the
// latest token request (absent: null), so tests can check both at the peer.
const stats = { token: 0, byGrant: {}, byAuth: {}, lastScope: null };

const configuration = {
  clients: CLIENTS,
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    deviceFlow: { enabled: true, charset: 'base-20', mask: '****-****' },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        accessTokenFormat: 'jwt',
        accessTokenTTL: accessTtl,
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  scopes: ['openid', 'offline_access', 'api'],
  // Every client allowed the refresh_token grant gets one: the tests need them.
  issueRefreshToken: (ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: {
    AccessToken: accessTtl,
    ClientCredentials: accessTtl,
    DeviceCode: deviceTtl,
    RefreshToken: 3600,
    Grant: 3600,
    Interaction: 600,
    Session: 3600,
  },
  findAccount: (ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
  cookies: { keys: ['interlink-test-peer-cookie-key'] },
};
// OIDC_JWKS_FILE: the signing keys (a private JWK Set), so a test can rotate them by restarting
// the provider on the same port with another set; without it, oidc-provider's fixed dev key.
if (process.env.OIDC_JWKS_FILE) {
  configuration.jwks = JSON.parse(readFileSync(process.env.OIDC_JWKS_FILE, 'utf8'));
}

// The issuer has to name the port, so listen first and build the provider afterwards.
const server = createServer();
server.listen(Number(process.env.OIDC_PORT || 0), '127.0.0.1', () => {
  const { port } = server.address();
  const provider = new Provider(`http://127.0.0.1:${port}`, configuration);

  // Count token requests at the peer (the benchmark's "token requests per 1,000 calls").
  provider.use(async (ctx, next) => {
    if (ctx.path === '/_test/stats') {
      ctx.type = 'json';
      ctx.body = stats;
      return;
    }
    await next();
    if (ctx.path === '/token' && ctx.method === 'POST') {
      stats.token += 1;
      const grant = ctx.oidc?.params?.grant_type || 'unknown';
      stats.byGrant[grant] = (stats.byGrant[grant] || 0) + 1;
      const body = ctx.oidc?.body || {};
      const how = (ctx.headers.authorization || '').startsWith('Basic ') ? 'basic'
        : (body.client_secret ? 'post' : 'none');
      stats.byAuth[how] = (stats.byAuth[how] || 0) + 1;
      stats.lastScope = body.scope === undefined ? null : body.scope;
    }
  });
  // A short polling interval keeps the device-login tests quick.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/device/auth' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      ctx.body.interval = interval;
    }
  });

  server.on('request', provider.callback());
  process.stdout.write(`READY http://127.0.0.1:${port}\n`);
});
