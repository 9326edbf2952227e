import { test, expect, type Page, type TestInfo } from "@playwright/test";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEMO_PASSWORD, MCP_RESOURCE, TLS_DIR } from "../playwright.config";
import { enrolTotp, shot, signInWithPassword, totp, watchForErrors } from "./support";

// The end-user journey through the real pages in Chromium: password + TOTP, tenant choice,
// consent toggles, step-up with enrolment, passkeys on a virtual authenticator, connected
// agents, and a forged consent POST. Each test has its own person (start-server.sh adds them).
// Screenshots of each page land in the test's output folder.

const CLIENT_ID = "demo-agent";
const REDIRECT = "http://127.0.0.1:8978/callback";
const RESOURCE = MCP_RESOURCE;

const b64url = (buf: Buffer) => buf.toString("base64url");

function pkce() {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash("sha256").update(verifier).digest());
  return { verifier, challenge };
}


function claimsOf(jwt: string) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());
}


/** Starts an authorization in the page; returns the PKCE verifier and a getter for the callback. */
async function authorize(page: Page, scope: string, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkce();
  let callback: string | undefined;
  await page.route("http://127.0.0.1:8978/**", async (route) => {
    callback = route.request().url();
    await route.fulfill({ status: 200, contentType: "text/plain", body: "done" });
  });
  const params = new URLSearchParams({
    response_type: "code",
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT,
    scope,
    state: "e2e-state",
    code_challenge: challenge,
    code_challenge_method: "S256",
    resource: RESOURCE,
    ...extra,
  });
  await page.goto(`/s/demo-notes/authorize?${params}`);
  return { verifier, callback: () => callback };
}

async function redeem(page: Page, callback: string, verifier: string) {
  const code = new URL(callback).searchParams.get("code")!;
  const response = await page.request.post("/s/demo-notes/token", {
    form: { grant_type: "authorization_code", code, redirect_uri: REDIRECT, client_id: CLIENT_ID, code_verifier: verifier, resource: RESOURCE },
  });
  expect(response.status()).toBe(200);
  return response.json();
}



test("(a) password + TOTP sign-in, tenant choice, one scope toggled off: the JWT has exactly the rest", async ({ page }, testInfo) => {
  const email = "e2e-totp@example.com";
  const errors = watchForErrors(page);
  await page.goto("/sign-in");
  await signInWithPassword(page, email);
  await expect(page).toHaveURL(/\/account$/);
  const key = await enrolTotp(page, testInfo);
  await page.getByRole("button", { name: "Sign out" }).click();

  const flow = await authorize(page, "notes.read notes.share");
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await shot(page, testInfo, "sign-in");
  await signInWithPassword(page, email);
  await expect(page.getByRole("heading", { name: "Confirm it is you" })).toBeVisible();
  await shot(page, testInfo, "second-factor");
  await page.getByLabel("Code from your authenticator app").fill(totp(key, 1));
  await page.getByRole("button", { name: "Verify" }).first().click();

  await expect(page.getByRole("heading", { name: "Choose an organization" })).toBeVisible();
  await expect(page.getByText("Your role: member")).toHaveCount(2);
  await shot(page, testInfo, "tenant");
  await page.getByLabel(/Globex/).check();
  await page.getByRole("button", { name: "Continue" }).click();

  await expect(page.getByRole("heading", { level: 1 })).toContainText("Allow Demo Agent");
  const share = page.getByRole("switch", { name: /Share notes/ });
  const summary = page.locator(".consent-summary");
  await expect(share).toBeChecked();
  await expect(summary).toHaveText("All 2 available scopes selected.");
  await shot(page, testInfo, "consent");
  // The summary follows the switches once the page has hydrated: retry until it does.
  await expect(async () => {
    if (!(await share.isChecked())) await share.check();
    await share.focus();
    await page.keyboard.press("Space");
    await expect(summary).toHaveText("1 of 2 available scopes selected.", { timeout: 500 });
  }).toPass({ timeout: 20_000 });
  await expect(share).not.toBeChecked();
  await page.getByRole("button", { name: "Allow" }).click();
  await expect.poll(flow.callback).toBeTruthy();

  const callback = new URL(flow.callback()!);
  expect(callback.searchParams.get("state")).toBe("e2e-state");
  const tokens = await redeem(page, callback.href, flow.verifier);
  const claims = claimsOf(tokens.access_token);
  expect(claims.scope).toBe("notes.read");
  expect(claims.acr).toBe("aal2");
  expect(claims.amr).toEqual(["pwd", "otp", "mfa"]);
  // The grant (and so the token's tenant) is the chosen organization.
  const account = await page.request.get("/account");
  expect(account.status()).toBe(200);
  expect(await account.text()).toContain("Demo Agent</strong> on Demo Notes in Globex");
  expect(claims.tenant).toMatch(/^[0-9a-f-]{36}$/);
  expect(errors, "every page hydrated without script errors or CSP violations").toEqual([]);
});

test("(b) a sensitive scope leads to second-factor enrolment, then consent", async ({ page }, testInfo) => {
  const flow = await authorize(page, "notes.read notes.write");
  await signInWithPassword(page, "e2e-stepup@example.com");
  await expect(page).toHaveURL(/\/account\?journey=/);
  await expect(page.getByRole("status").first()).toContainText("needs a second factor");
  await shot(page, testInfo, "step-up-enrol");
  await enrolTotp(page, testInfo);
  await page.getByRole("button", { name: "Continue to the application" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Allow Demo Agent");
  const write = page.getByRole("switch", { name: /Write notes/ });
  await expect(write).toBeChecked();
  await expect(page.locator("li.scope", { hasText: "notes.write" }).locator(".badge.warn")).toHaveText("sensitive");
  await page.getByRole("button", { name: "Allow" }).click();
  await expect.poll(flow.callback).toBeTruthy();
  const claims = claimsOf((await redeem(page, flow.callback()!, flow.verifier)).access_token);
  expect(claims.scope).toBe("notes.read notes.write");
  expect(claims.acr).toBe("aal2");
});

test("(c) passkey registration and sign-in with Chromium's virtual authenticator", async ({ page, context }, testInfo) => {
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });
  const email = "e2e-passkey@example.com";
  await page.goto("/sign-in");
  await signInWithPassword(page, email);
  await expect(page).toHaveURL(/\/account$/);
  await page.getByLabel("Name for the new passkey").fill("Virtual key");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.getByTestId("passkeys")).toContainText("Virtual key");
  await shot(page, testInfo, "passkey-registered");
  await page.getByRole("button", { name: "Sign out" }).click();

  // Sign in with the passkey alone (discoverable credential: no email typed).
  const flow = await authorize(page, "notes.read notes.write");
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  // A user-verified passkey is two factors: no step-up page before the sensitive scope.
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Allow Demo Agent");
  await page.getByRole("button", { name: "Allow" }).click();
  await expect.poll(flow.callback).toBeTruthy();
  const claims = claimsOf((await redeem(page, flow.callback()!, flow.verifier)).access_token);
  expect(claims.amr).toEqual(["hwk", "user", "mfa"]);
  expect(claims.acr).toBe("aal2");

  // With a password, the passkey is then the second factor.
  const cookies = await context.cookies();
  await context.clearCookies();
  expect(cookies.length).toBeGreaterThan(0);
  await page.goto("/sign-in");
  await signInWithPassword(page, email);
  await expect(page.getByRole("heading", { name: "Confirm it is you" })).toBeVisible();
  await page.getByRole("button", { name: "Use a passkey" }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByText(`Signed in as ${email}`)).toBeVisible();
});

test("(d) revoking a connected agent makes its refresh token fail", async ({ page }) => {
  const flow = await authorize(page, "notes.read");
  await signInWithPassword(page, "e2e-revoke@example.com");
  await page.getByRole("button", { name: "Allow" }).click();
  await expect.poll(flow.callback).toBeTruthy();
  const tokens = await redeem(page, flow.callback()!, flow.verifier);
  const refresh = () =>
    page.request.post("/s/demo-notes/token", {
      form: { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: CLIENT_ID },
    });

  await page.goto("/account");
  const agents = page.getByTestId("connected-agents");
  await expect(agents).toContainText("Demo Agent");
  await expect(agents).toContainText("notes.read");
  await agents.getByRole("button", { name: /Revoke/ }).click();
  await expect(page.getByText("No agent can act for you yet.")).toBeVisible();
  const response = await refresh();
  expect(response.status()).toBe(400);
  expect((await response.json()).error).toBe("invalid_grant");
});

test("(e) a forged consent POST is refused", async ({ page }) => {
  const flow = await authorize(page, "notes.read");
  await signInWithPassword(page, "e2e-forged@example.com");
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Allow Demo Agent");
  const journey = await page.locator("input[name=journey]").first().inputValue();
  const csrf = await page.locator("input[name=csrf]").first().inputValue();

  const post = (form: Record<string, string>) => page.request.post("/authorize/consent", { form, maxRedirects: 0 });
  const noCsrf = await post({ journey, decision: "allow", scope: "notes.read" });
  expect(noCsrf.status()).toBe(400);
  const wrongCsrf = await post({ csrf: "forged", journey, decision: "allow", scope: "notes.read" });
  expect(wrongCsrf.status()).toBe(400);
  const otherJourney = await post({ csrf, journey: "someone-elses", decision: "allow", scope: "notes.read" });
  expect(otherJourney.status()).toBe(400);
  const notRequested = await post({ csrf, journey, decision: "allow", scope: "notes.share" });
  expect(notRequested.status()).toBe(400);
  expect(await notRequested.text()).toContain("not requested");
  expect(flow.callback()).toBeUndefined();

  // The real form still works afterwards.
  await page.getByRole("button", { name: "Allow" }).click();
  await expect.poll(flow.callback).toBeTruthy();
});

test("(f) a one-time password is replaced first, with the check updating in place", async ({ page }, testInfo) => {
  const errors = watchForErrors(page);
  const oneTime = readFileSync(join(TLS_DIR, "owner-password"), "utf8").trim();
  expect(oneTime.length).toBeGreaterThan(11);
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill("e2e-owner@example.com");
  await page.getByLabel("Password").fill(oneTime);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Choose a password" })).toBeVisible();
  const check = page.getByTestId("password-check");
  // The check runs in the browser once the page has hydrated: retry typing until it reacts.
  await expect(async () => {
    await page.getByLabel("New password").fill("a long new password");
    await page.getByLabel("Repeat it").fill("a long new passwore");
    await expect(check).toHaveText("The two passwords are not the same.", { timeout: 500 });
  }).toPass({ timeout: 20_000 });
  await shot(page, testInfo, "new-password");
  await page.getByLabel("Repeat it").fill("a long new password");
  await expect(check).toHaveText("");
  await page.getByRole("button", { name: "Save and continue" }).click();
  // An admin (as `admin create` makes) lands on the console.
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  await expect(page.getByText("e2e-owner@example.com")).toBeVisible();
  expect(errors, "no script errors or CSP violations").toEqual([]);
});
