// The test suite's OpenID Connect provider: the certified `oidc-provider` package on loopback,
// with its built-in development login page (any login name signs in; the name is the account's
// e-mail address, verified). One confidential client, the console, with the code flow and PKCE;
// consent is taken as given, as it is for an organisation's own applications.
//
// Environment: OIDC_PORT (0 or unset: any free port), OIDC_CLIENT_ID, OIDC_CLIENT_SECRET,
// OIDC_REDIRECT_URI, OIDC_PROVIDER_MODULES (the node_modules folder holding oidc-provider:
// ES modules ignore NODE_PATH). The issuer is http://localhost:<port> — another site than the
// console on 127.0.0.1, as a real provider is. Prints `ready <issuer>` once listening; exits when
// its standard input closes, so a test that dies leaves no provider behind.
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const env = (name) => {
  const value = process.env[name];
  if (!value) { console.error(`provider.mjs: ${name} is not set`); process.exit(2); }
  return value;
};
const modules = env('OIDC_PROVIDER_MODULES');
const { default: Provider } = await import(pathToFileURL(join(modules, 'oidc-provider', 'lib', 'index.js')).href);

// Listen first, so that the issuer can carry the port.
const server = createServer();
await new Promise((resolve) => server.listen(Number(process.env.OIDC_PORT || 0), '127.0.0.1', resolve));
const issuer = `http://localhost:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: env('OIDC_CLIENT_ID'),
    client_secret: env('OIDC_CLIENT_SECRET'),
    redirect_uris: [env('OIDC_REDIRECT_URI')],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return { sub: id, email: id, email_verified: true, name: id }; } };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // The ID token itself carries the e-mail address asked for with the `email` scope.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  // Consent is given: the grant covers what the console asks for. A grant that is gone (the
  // provider revokes one whose code was used twice) is given again, not asked for.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    const existing = grantId && await ctx.oidc.provider.Grant.find(grantId);
    if (existing) return existing;
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});
server.on('request', provider.callback());

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
// Last, so that whoever reads it can already stop it.
process.stdout.write(`ready ${issuer}\n`);
