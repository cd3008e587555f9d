// A real OpenID provider for gatekeep's tests: npm `oidc-provider` (version 9, pinned by
// package-lock.json beside this file), started by tests/it/support/oidc.rs on 127.0.0.1.
//
//   node provider.mjs SETTINGS.json MODULES_DIR
//
// SETTINGS.json (written by the test): { "port", "redirect_uri", "client_secret", "keys",
// "device" }
// where `keys` are private JWKs (the first signs). The test keeps a copy of the keys, so it
// can sign tokens the provider's JWKS vouches for (an expired token, another audience).
//
// - one confidential client `gatekeep` (client_secret_basic), PKCE required (S256), ID
//   tokens signed ES256 with `auth_time` always present;
// - test accounts: any login name (devInteractions); `groups` comes from GROUPS below, and
//   `email` is NAME@example.com;
// - the device authorization grant is enabled (for `gatekeep login --oidc`) unless
//   "device" is false (a provider without it, where the CLI falls back to a loopback
//   redirect);
// - POST /__test/reload re-reads SETTINGS.json and swaps in a provider built from it (a key
//   rotation): sessions, codes and grants live in the memory adapter, which every instance
//   in this process shares.
//
// Loopback only: the server listens on 127.0.0.1.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [settingsPath, modules] = process.argv.slice(2);
const { default: Provider } = await import(
  pathToFileURL(join(modules, 'oidc-provider', 'lib', 'index.js')).href
);

// Who is in which group. Anyone else is in no group.
const GROUPS = {
  alice: ['sre'],
  bob: ['sre', 'platform'],
  carol: ['platform'],
  erin: ['sre'],
  mallory: ['marketing'],
};

function build() {
  const settings = JSON.parse(readFileSync(settingsPath, 'utf8'));
  const issuer = `http://127.0.0.1:${settings.port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'gatekeep',
        client_secret: settings.client_secret,
        redirect_uris: [settings.redirect_uri],
        grant_types: settings.device === false
          ? ['authorization_code']
          : ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'ES256',
        require_auth_time: true,
      },
    ],
    jwks: { keys: settings.keys },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: settings.device !== false },
    },
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    // The claims of the granted scopes go into the ID token itself, as Okta and Entra do
    // for `groups`: gatekeep reads the ID token, not the userinfo endpoint.
    conformIdTokenClaims: false,
    cookies: { keys: ['gatekeep-test-cookie-key'] },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            email: `${id}@example.com`,
            email_verified: true,
            name: id,
            groups: GROUPS[id] ?? [],
          };
        },
      };
    },
    // Consent is given on the user's behalf: the test drives the login form only.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) {
        return ctx.oidc.provider.Grant.find(grantId);
      }
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid email profile groups');
      await grant.save();
      return grant;
    },
  });
  return provider;
}

let current = build().callback();

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/__test/reload') {
    try {
      current = build().callback();
      res.writeHead(204).end();
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
    return;
  }
  current(req, res);
});

const { port } = JSON.parse(readFileSync(settingsPath, 'utf8'));
server.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on http://127.0.0.1:${port}`);
});
