import { test, expect } from "@playwright/test";
import * as oidc from "openid-client";
import { DEMO_PASSWORD, MCP_RESOURCE } from "../playwright.config";

// panva's openid-client, unmodified from npm, against Mandate on localhost: discovery (RFC 8414),
// dynamic registration (RFC 7591), authorization code + PKCE with RFC 9207 `iss` checking
// (the browser step driven through the real pages), refresh, introspection and revocation.

const REDIRECT = "http://127.0.0.1:8977/callback";
const RESOURCE = MCP_RESOURCE;
const insecure = { execute: [oidc.allowInsecureRequests], algorithm: "oauth2" as const };

test("openid-client discovers, registers, runs code + PKCE, refreshes, introspects and revokes", async ({ page, baseURL }) => {
  const issuer = new URL(`${baseURL}/s/demo-notes`);

  const config = await oidc.dynamicClientRegistration(
    issuer,
    {
      client_name: "openid-client interop",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      application_type: "native",
    },
    oidc.None(),
    insecure,
  );
  expect(config.serverMetadata().issuer).toBe(issuer.href);
  expect(config.serverMetadata().authorization_response_iss_parameter_supported).toBe(true);

  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const authorizeUrl = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: "notes.read notes.share",
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    resource: RESOURCE,
  });

  // The browser step: the person signs in, picks a tenant and consents with one scope off.
  let callback: string | undefined;
  await page.route("http://127.0.0.1:8977/**", async (route) => {
    callback = route.request().url();
    await route.fulfill({ status: 200, contentType: "text/plain", body: "done" });
  });
  await page.goto(authorizeUrl.href);
  await page.getByLabel("Email").fill("demo@example.com");
  await page.getByLabel("Password").fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByLabel(/Globex/).check();
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText("openid-client interop");
  await page.getByLabel(/Share notes/).uncheck();
  await page.getByRole("button", { name: "Allow" }).click();
  await expect.poll(() => callback).toBeTruthy();

  const tokens = await oidc.authorizationCodeGrant(
    config,
    new URL(callback!),
    { pkceCodeVerifier: verifier, expectedState: state },
    { resource: RESOURCE },
  );
  expect(tokens.token_type.toLowerCase()).toBe("bearer");
  expect(tokens.scope).toBe("notes.read");
  expect(tokens.refresh_token).toMatch(/^mdt_rt_/);
  const claims = JSON.parse(Buffer.from(tokens.access_token.split(".")[1], "base64url").toString());
  expect(claims.aud).toBe(RESOURCE);
  expect(claims.iss).toBe(issuer.href);
  expect(claims.tenant).toBeTruthy();

  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
  expect(refreshed.scope).toBe("notes.read");

  // A confidential client (a resource server) introspects.
  const rs = await oidc.dynamicClientRegistration(
    issuer,
    { client_name: "resource server", grant_types: ["client_credentials"], token_endpoint_auth_method: "client_secret_post" },
    undefined,
    insecure,
  );
  const active = await oidc.tokenIntrospection(rs, refreshed.access_token);
  expect(active.active).toBe(true);
  expect(active.scope).toBe("notes.read");
  expect(active.client_id).toBe(config.clientMetadata().client_id);

  // Revoking the refresh token ends the grant.
  await oidc.tokenRevocation(config, refreshed.refresh_token!);
  await expect(oidc.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: "invalid_grant" });
  const after = await oidc.tokenIntrospection(rs, refreshed.access_token);
  expect(after.active).toBe(false);
});
