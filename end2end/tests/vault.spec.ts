import { test, expect, type Page } from "@playwright/test";
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { type AddressInfo } from "node:net";
import Provider from "oidc-provider";
import { MCP_RESOURCE } from "../playwright.config";
import { shot, signInAsAdmin, signInWithPassword, watchForErrors } from "./support";

// The token vault against a real OAuth 2.0 provider: panva's oidc-provider, started by this
// test on loopback, stands for a service such as GitHub. An admin adds it on the console with
// a connections policy; a person connects their account from the consent page of the demo MCP
// server (and comes back to it); the MCP server's back end then exchanges the person's Mandate
// token for the provider's (RFC 8693), which works at the provider, is refreshed before it
// expires and can be narrowed; without the policy, or after the person disconnects, nothing
// is handed out.

const CLIENT = "mandate-vault";
const SECRET = "mandate-vault-secret-0123456789";
const REDIRECT = "http://127.0.0.1:8985/callback";
const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS = "urn:ietf:params:oauth:token-type:access_token";

async function startProvider(mandate: string) {
  const server = (await import("node:http")).createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://localhost:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT,
      client_secret: SECRET,
      redirect_uris: [`${mandate}/connections/callback`],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
    }],
    scopes: ["openid", "offline_access", "repo"],
    cookies: { keys: ["vault-e2e-cookie-key"] },
    jwks: { keys: [{ ...generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" }), kid: "vault-e2e", alg: "RS256", use: "sig" }] },
    // Access tokens live 30 s: inside Mandate's one-minute margin, so every exchange refreshes.
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 30, IdToken: 600, RefreshToken: 3600 },
    issueRefreshToken: async () => true,
    rotateRefreshToken: true,
    features: { devInteractions: { enabled: true } },
    async findAccount(_ctx: unknown, id: string) {
      return { accountId: id, async claims() { return { sub: id }; } };
    },
  } as any);
  server.on("request", provider.callback());
  return { issuer, close: () => server.close() };
}

function pkce() {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  return { verifier, challenge };
}

async function exchange(page: Page, backend: { id: string; secret: string }, subject: string, extra: Record<string, string> = {}) {
  const basic = Buffer.from(`${backend.id}:${backend.secret}`).toString("base64");
  const res = await page.request.post("/s/demo-notes/token", {
    headers: { authorization: `Basic ${basic}` },
    form: { grant_type: EXCHANGE, subject_token: subject, subject_token_type: ACCESS, audience: "testgit", ...extra },
  });
  return { status: res.status(), body: await res.json() };
}

async function worksAtProvider(page: Page, issuer: string, token: string) {
  const res = await page.request.get(`${issuer}/me`, { headers: { authorization: `Bearer ${token}` } });
  return res.status();
}

test("a person connects an account while consenting, and the MCP server exchanges their token for it", async ({ page, browser, baseURL }, testInfo) => {
  const idp = await startProvider(baseURL!);
  try {
    const errors = watchForErrors(page);
    await signInAsAdmin(page, "vaulter");

    // The provider and a policy, on the console.
    await page.goto("/admin/connections");
    await expect(page.getByTestId("vault-redirect-uri")).toHaveText(`${baseURL}/connections/callback`);
    await page.getByLabel("Name", { exact: true }).first().fill("Test Git");
    await page.getByLabel(/^Slug/).fill("testgit");
    await page.getByLabel("Authorization endpoint (OAuth 2.0)").fill(`${idp.issuer}/auth`);
    await page.getByLabel("Token endpoint (OAuth 2.0)").fill(`${idp.issuer}/token`);
    await page.getByLabel("Client id (OAuth 2.0)").fill(CLIENT);
    await page.getByLabel(/^Client secret/).fill(SECRET);
    await page.getByLabel("Provider scopes to ask for").fill("openid offline_access repo");
    await page.getByLabel(/^Offer on the consent screen/).fill("demo-notes");
    await page.getByRole("button", { name: "Add provider" }).click();
    await expect(page.getByTestId("providers")).toContainText("testgit");
    const policyForm = page.locator("form", { has: page.getByRole("button", { name: "Add policy" }) });
    await policyForm.getByLabel("Name", { exact: true }).fill("Everyone's notes server uses Test Git");
    await policyForm.getByLabel("Condition (leave empty for everyone)").fill("jwtClaims.aud");
    await policyForm.getByLabel("Operator").selectOption("Equal");
    await policyForm.getByLabel("Values (comma-separated)").fill(MCP_RESOURCE);
    await policyForm.getByLabel("Provider (slug)").fill("testgit");
    await policyForm.getByLabel("Provider scopes it may carry").fill("openid offline_access repo");
    await page.getByRole("button", { name: "Add policy" }).click();
    await expect(page.getByTestId("connection-policies")).toContainText("Everyone's notes server uses Test Git");
    await shot(page, testInfo, "console-connections");

    // The MCP server's back end: a machine agent allowed to exchange (through the admin API).
    await page.goto("/admin/api-keys");
    await page.getByLabel("Name").fill("vault e2e");
    await page.getByLabel("Access").selectOption("full");
    await page.getByRole("button", { name: "Create key" }).click();
    const key = (await page.getByTestId("new-api-key").locator("code").first().textContent())!.trim();
    const api = { authorization: `Bearer ${key}` };
    const created = await page.request.post("/api/v1/agents", { headers: api, data: { name: "Notes back end", allowances: { "demo-notes": ["*"] } } });
    expect(created.status()).toBe(201);
    const agent = await created.json();
    const backend = { id: agent.agent.id as string, secret: agent.client_secret as string };
    const allowed = await page.request.put(`/api/v1/agents/${encodeURIComponent(backend.id)}/connections`, { headers: api, data: { token_exchange: true } });
    expect(allowed.status()).toBe(200);

    // A person authorizes the demo agent; the consent page offers Test Git, they connect it at
    // the provider and come back to the consent page.
    const context = await browser.newContext();
    const person = await context.newPage();
    const personErrors = watchForErrors(person);
    const { verifier, challenge } = pkce();
    let callback: string | undefined;
    await person.route("http://127.0.0.1:8985/**", async (route) => {
      callback = route.request().url();
      await route.fulfill({ status: 200, contentType: "text/plain", body: "done" });
    });
    const params = new URLSearchParams({
      response_type: "code", client_id: "demo-agent", redirect_uri: REDIRECT, scope: "notes.read",
      state: "vault-e2e", code_challenge: challenge, code_challenge_method: "S256", resource: MCP_RESOURCE,
    });
    await person.goto(`/s/demo-notes/authorize?${params}`);
    await signInWithPassword(person, "e2e-vault@example.com");
    await expect(person.getByRole("heading", { level: 1 })).toContainText("Allow Demo Agent");
    const offers = person.getByTestId("connection-offers");
    await expect(offers).toContainText("Test Git");
    await expect(offers).toContainText("Not connected");
    await shot(person, testInfo, "consent-offers-connection");
    await offers.getByRole("button", { name: "Connect" }).click();
    // The provider's own pages.
    await person.locator('input[name="login"]').fill("octocat");
    await person.locator('input[name="password"]').fill("anything");
    await person.getByRole("button", { name: "Sign-in" }).click();
    await person.getByRole("button", { name: "Continue" }).click();
    await expect(person.getByRole("heading", { level: 1 })).toContainText("Allow Demo Agent");
    await expect(person.getByTestId("connection-offers")).toContainText("Connected");
    await person.getByRole("button", { name: "Allow" }).click();
    await expect.poll(() => callback).toBeTruthy();
    const code = new URL(callback!).searchParams.get("code")!;
    const tokenRes = await person.request.post("/s/demo-notes/token", {
      form: { grant_type: "authorization_code", code, redirect_uri: REDIRECT, client_id: "demo-agent", code_verifier: verifier, resource: MCP_RESOURCE },
    });
    expect(tokenRes.status()).toBe(200);
    const subject = (await tokenRes.json()).access_token as string;

    // The exchange hands out the provider's token, which works there.
    const first = await exchange(page, backend, subject);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.issued_token_type).toBe(ACCESS);
    expect(first.body.token_type).toBe("Bearer");
    // What the provider granted (it drops offline_access without a consent prompt; Mandate
    // records what it says it issued, not what was asked).
    expect(first.body.scope.split(" ").sort()).toEqual(["openid", "repo"]);
    expect(first.body.refresh_token).toBeUndefined();
    expect(await worksAtProvider(page, idp.issuer, first.body.access_token)).toBe(200);
    // It expires within the minute: the next exchange refreshes it first.
    const second = await exchange(page, backend, subject);
    expect(second.status).toBe(200);
    expect(second.body.access_token).not.toBe(first.body.access_token);
    expect(await worksAtProvider(page, idp.issuer, second.body.access_token)).toBe(200);
    // Asking for less gets a token narrowed at the provider.
    const narrow = await exchange(page, backend, subject, { scope: "repo" });
    expect(narrow.status, JSON.stringify(narrow.body)).toBe(200);
    expect(narrow.body.scope).toBe("repo");
    // A scope the connection does not hold is refused.
    const more = await exchange(page, backend, subject, { scope: "admin" });
    expect([more.status, more.body.error]).toEqual([400, "invalid_scope"]);

    // The person sees the connection on their account page.
    await person.goto("/account");
    const mine = person.getByTestId("connections");
    await expect(mine).toContainText("Test Git");
    await expect(mine).toContainText("repo");
    await shot(person, testInfo, "account-connections");

    // The trail shows the exchanges and refreshes.
    await page.goto("/admin/audit?type=connection.refreshed");
    const refreshed = page.getByTestId("audit-events").locator("tbody tr");
    await expect(refreshed.first()).toContainText("connection.refreshed");
    expect(await refreshed.count()).toBeGreaterThanOrEqual(2);
    await expect(refreshed.first()).toContainText("success");

    // Without the policy nothing leaves.
    await page.goto("/admin/connections");
    const policy = page.getByTestId("connection-policies").locator("li").first();
    await policy.getByLabel("Yes, delete").check();
    await policy.getByRole("button", { name: /Delete/ }).click();
    await expect(page.getByText("No connections policy yet")).toBeVisible();
    const closed = await exchange(page, backend, subject);
    expect([closed.status, closed.body.error]).toEqual([400, "invalid_target"]);

    // Back through the API (the same conditions), so only the connection is missing below.
    const again = await page.request.post("/api/v1/connection-policies", {
      headers: api,
      data: { name: "Notes server uses Test Git", conditions: [{ key: "jwtClaims.aud", operator: "Equal", values: [MCP_RESOURCE] }], allows: [{ provider_id: "testgit", scopes: ["repo"] }] },
    });
    expect(again.status()).toBe(201);
    expect((await exchange(page, backend, subject)).body.scope).toBe("repo");

    // Disconnecting deletes the tokens.
    await mine.getByRole("button", { name: /Disconnect/ }).click();
    await expect(person.getByTestId("connections")).toContainText("Not connected");
    const gone = await exchange(page, backend, subject);
    expect([gone.status, gone.body.error]).toEqual([400, "invalid_grant"]);

    // The provider's own (development) pages ask for assets on the internet, which this
    // machine cannot resolve; everything else must be clean.
    const ours = personErrors.filter((e) => !e.includes("ERR_NAME_NOT_RESOLVED"));
    expect(ours, "no script errors or CSP violations").toEqual([]);
    expect(errors, "no script errors or CSP violations").toEqual([]);
    await context.close();
  } finally {
    idp.close();
  }
});
