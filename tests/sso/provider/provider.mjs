// A real OpenID Connect provider for Assay's SSO tests: panva's oidc-provider (OpenID Certified), run on 127.0.0.1.
//
//   node provider.mjs CONFIG.json
//
// CONFIG.json (written by tests/sso/conftest.py): {"port", "issuer", "jwks": {"keys": [private JWKs]},
// "clients": [oidc-provider client metadata], "accounts": {"<login>": {"password", "claims": {...}}}}.
// Everything protocol-related (discovery, JWKS, authorization code + PKCE, tokens, userinfo, RP-initiated logout) is
// the library's own; this file adds only a sign-in page that checks the accounts' passwords, and skips the consent
// page (Assay is a first-party client). Pages are plain HTML with nothing loaded from elsewhere.
// It prints "ready <issuer>" once it listens, and stops when its standard input closes (the test process ended).

import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts;

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<link rel="icon" href="data:,"></head><body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: config.jwks,
  // Scopes and the claims they release; "groups" carries the group names Assay maps to a role and teams.
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  // Put the requested claims in the ID token too (as Entra ID and Okta do for groups), not only in userinfo.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  ttl: { IdToken: 300, AccessToken: 300, AuthorizationCode: 60, Session: 3600, Interaction: 600, Grant: 3600 },
  cookies: { keys: ['assay-test-provider-cookie-key'] },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = page('Sign out of the test provider?', `${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>`);
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.body = page('Signed out', '<p>You are signed out of the test provider.</p>');
      },
    },
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Provider error', `<pre>${escape(JSON.stringify(out))}</pre>`);
  },
  findAccount: async (ctx, sub) => {
    const account = accounts[sub];
    if (!account) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...account.claims }) };
  },
  // First-party client: the grant covers what the client asked for, so no consent page is shown.
  loadExistingGrant: async (ctx) => {
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(ctx.oidc.requestParamScopes ? [...ctx.oidc.requestParamScopes].join(' ') : 'openid');
    await grant.save();
    return grant;
  },
});
provider.on('server_error', (ctx, error) => console.error('server_error', error));

const readForm = (req) => new Promise((resolve, reject) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => { body += chunk; if (body.length > 10000) reject(new Error('form too large')); });
  req.on('end', () => resolve(new URLSearchParams(body)));
  req.on('error', reject);
});

const loginForm = (uid, problem) => page('Sign in to the test provider', `${problem ? `<p role="alert">${escape(problem)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}">
<label for="login">User name</label> <input id="login" name="login" autocomplete="username" required autofocus>
<label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form>`);

async function interaction(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(loginForm(uid));
    return;
  }
  const form = await readForm(req);
  const login = form.get('login') || '';
  const account = Object.hasOwn(accounts, login) ? accounts[login] : undefined;
  if (!account || account.password !== form.get('password')) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(loginForm(uid, 'Unknown user name or wrong password.'));
    return;
  }
  await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
}

const handle = provider.callback();
const server = http.createServer((req, res) => {
  const match = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(new URL(req.url, config.issuer).pathname);
  if (!match) {
    handle(req, res);
    return;
  }
  interaction(req, res, match[1]).catch((error) => {
    console.error('interaction failed', error);
    res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page('Sign-in failed', `<p>${escape(error.message)}</p>`));
  });
});
server.listen(config.port, '127.0.0.1', () => console.log(`ready ${config.issuer}`));
process.stdin.resume();
process.stdin.on('end', () => server.close(() => process.exit(0)));
process.stdin.on('close', () => process.exit(0));
