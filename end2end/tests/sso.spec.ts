import { test, expect, type Browser } from "@playwright/test";
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { type AddressInfo } from "node:net";
import Provider from "oidc-provider";
import { shot, signInAsAdmin, watchForErrors } from "./support";

// Per-tenant single sign-on against a real OpenID provider: panva's oidc-provider, started by
// this test on loopback (start-server.sh sets MANDATE_INTEGRATIONS_NETWORK=loopback), is the
// "Initech" tenant's identity provider. An admin sets it up on the console with a group →
// role mapping and a policy on that role; a person of initech.example then signs in through
// the provider (no password at Mandate), is provisioned just in time, and gets exactly the
// scope their provider group maps to. A refusal at the provider ends on a readable page.

const CLIENT = "mandate-sso";
const SECRET = "mandate-sso-secret-0123456789";
const REDIRECT = "http://127.0.0.1:8983/callback";

function pkce() {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  return { verifier, challenge };
}

async function startProvider(mandate: string) {
  const server = (await import("node:http")).createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://localhost:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT,
      client_secret: SECRET,
      redirect_uris: [`${mandate}/sign-in/sso/callback`],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    }],
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"], groups: ["groups"] },
    scopes: ["openid", "email", "profile", "groups"],
    // The claims of the requested scopes go in the ID token itself.
    conformIdTokenClaims: false,
    cookies: { keys: ["sso-e2e-cookie-key"] },
    // Its own signing key (RS256, the ID token default) and lifetimes, instead of the
    // development defaults it warns about.
    jwks: { keys: [{ ...generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" }), kid: "sso-e2e", alg: "RS256", use: "sig" }] },
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600 },
    features: { devInteractions: { enabled: true } },
    // The dev login form's "login" is the account id: the person's email.
    async findAccount(_ctx: unknown, id: string) {
      return {
        accountId: id,
        async claims() {
          return {
            sub: `idp-${id}`,
            email: id,
            email_verified: true,
            name: id.split("@")[0],
            groups: id.startsWith("lee") ? ["finance", "staff"] : ["staff"],
          };
        },
      };
    },
  } as any);
  server.on("request", provider.callback());
  return { issuer, close: () => server.close() };
}

/** One person's authorization of the reports server, signing in at the provider. */
async function authorizeThroughProvider(browser: Browser, email: string, typedPassword: string) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const { verifier, challenge } = pkce();
  let callback: string | undefined;
  await page.route("http://127.0.0.1:8983/**", async (route) => {
    callback = route.request().url();
    await route.fulfill({ status: 200, contentType: "text/plain", body: "done" });
  });
  const params = new URLSearchParams({
    response_type: "code",
    client_id: "demo-agent",
    redirect_uri: REDIRECT,
    scope: "reports.read reports.approve",
    state: "sso-e2e",
    code_challenge: challenge,
    code_challenge_method: "S256",
    resource: "https://reports.e2e.example/mcp",
  });
  await page.goto(`/s/e2e-reports/authorize?${params}`);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await page.getByLabel("Email").fill(email);
  // An enforcing domain goes to the provider whatever password is typed here.
  await page.getByLabel("Password").fill(typedPassword);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  // The provider's own pages.
  await expect(page.locator('input[name="login"]')).toHaveValue(email);
  return { context, page, verifier, callback: () => callback };
}

test("a tenant's OpenID provider signs its people in, and their groups decide their scopes", async ({ page, browser, baseURL }, testInfo) => {
  const idp = await startProvider(baseURL!);
  try {
    const errors = watchForErrors(page);
    await signInAsAdmin(page, "ssoadmin");

    // A tenant, and an MCP server whose approving scope is for approvers only.
    await page.goto("/admin/tenants");
    await page.locator('input[name="name"]').fill("Initech");
    await page.locator('input[name="slug"]').fill("initech");
    await page.getByRole("button", { name: "Create tenant" }).click();
    await expect(page.getByRole("heading", { name: "Initech" })).toBeVisible();
    await page.goto("/admin/mcp-servers/new");
    await page.getByLabel("Name", { exact: true }).fill("E2E Reports");
    await page.getByLabel("Slug").fill("e2e-reports");
    await page.getByLabel("Resource URL").fill("https://reports.e2e.example/mcp");
    await page.locator('input[name="s0_name"]').fill("reports.read");
    await page.locator('input[name="s0_display_name"]').fill("Read reports");
    await page.locator('input[name="s1_name"]').fill("reports.approve");
    await page.locator('input[name="s1_display_name"]').fill("Approve reports");
    await page.getByRole("button", { name: "Create server" }).click();
    await expect(page.getByTestId("server-links")).toContainText("/s/e2e-reports");
    await page.goto("/admin/policies");
    await page.getByLabel("Name", { exact: true }).fill("Reports: everyone reads");
    await page.locator('input[name="allow"][value$="|reports.read"]').check();
    await page.getByRole("button", { name: "Create policy" }).click();
    await expect(page.getByTestId("policies")).toContainText("Reports: everyone reads");
    await page.getByLabel("Name", { exact: true }).fill("Reports: approvers approve");
    await page.locator('select[name="c0_key"]').selectOption("user.roles");
    await page.locator('select[name="c0_op"]').selectOption("Contains");
    await page.locator('input[name="c0_values"]').fill("approver");
    await page.locator('input[name="allow"][value$="|reports.approve"]').check();
    await page.getByRole("button", { name: "Create policy" }).click();
    await expect(page.getByTestId("policies")).toContainText("Reports: approvers approve");

    // Single sign-on for Initech: a wrong issuer is refused beside its field, then saved.
    await page.goto("/admin/tenants/initech");
    const form = page.getByTestId("sso-form");
    await expect(form.getByTestId("sso-redirect-uri")).toHaveText(`${baseURL}/sign-in/sso/callback`);
    await form.locator('input[name="sso_issuer_url"]').fill("http://idp.initech.example");
    await form.locator('input[name="sso_client_id"]').fill(CLIENT);
    await form.locator('input[name="sso_client_secret"]').fill(SECRET);
    await form.locator('input[name="sso_email_domains"]').fill("initech.example");
    await form.locator('input[name="sso_scopes"]').fill("openid email profile groups");
    await form.locator('input[name="sso_enforce"]').check();
    await form.locator('textarea[name="sso_role_mapping"]').fill("finance = approver, member\nstaff = member");
    await form.getByRole("button", { name: "Save single sign-on" }).click();
    await expect(page.locator('[data-field="sso_issuer_url"]')).toContainText("https");
    await expect(page.locator('input[name="sso_client_id"]')).toHaveValue(CLIENT);
    await page.locator('input[name="sso_issuer_url"]').fill(idp.issuer);
    await page.locator('input[name="sso_client_secret"]').fill(SECRET);
    await page.getByRole("button", { name: "Save single sign-on" }).click();
    await expect(page.getByRole("button", { name: "Remove single sign-on" })).toBeVisible();
    await expect(page.locator('input[name="sso_issuer_url"]')).toHaveValue(idp.issuer);
    await shot(page, testInfo, "tenant-sso");

    // Lee (group finance → role approver) signs in at the provider and may approve.
    const lee = await authorizeThroughProvider(browser, "lee@initech.example", "not checked here");
    await lee.page.locator('input[name="password"]').fill("anything");
    await lee.page.getByRole("button", { name: "Sign-in" }).click();
    await lee.page.getByRole("button", { name: "Continue" }).click();
    await expect(lee.page.getByRole("heading", { level: 1 })).toContainText("Allow Demo Agent");
    await expect(lee.page.getByText("Approve reports")).toBeVisible();
    await shot(lee.page, testInfo, "sso-consent");
    await lee.page.getByRole("button", { name: "Allow" }).click();
    await expect.poll(lee.callback).toBeTruthy();
    const code = new URL(lee.callback()!).searchParams.get("code")!;
    const token = await lee.page.request.post("/s/e2e-reports/token", {
      form: { grant_type: "authorization_code", code, redirect_uri: REDIRECT, client_id: "demo-agent", code_verifier: lee.verifier },
    });
    expect(token.status()).toBe(200);
    const body = await token.json();
    expect(body.scope.split(" ").sort()).toEqual(["reports.approve", "reports.read"]);
    const claims = JSON.parse(Buffer.from(body.access_token.split(".")[1], "base64url").toString());
    expect(claims.aud).toBe("https://reports.e2e.example/mcp");
    expect(typeof claims.tenant).toBe("string");
    await lee.context.close();

    // Max (group staff → role member only): the approving scope is not his to grant.
    const max = await authorizeThroughProvider(browser, "max@initech.example", "whatever");
    await max.page.locator('input[name="password"]').fill("anything");
    await max.page.getByRole("button", { name: "Sign-in" }).click();
    await max.page.getByRole("button", { name: "Continue" }).click();
    await expect(max.page.getByRole("heading", { level: 1 })).toContainText("Allow Demo Agent");
    await expect(max.page.getByText("No policy of this hub allows it for you with this agent.")).toBeVisible();
    await max.context.close();

    // The provider refuses (the person cancels there): a readable page, nothing signed in.
    const ann = await authorizeThroughProvider(browser, "ann@initech.example", "whatever");
    await ann.page.getByRole("link", { name: "[ Cancel ]" }).click();
    await expect(ann.page.getByRole("heading", { name: "Your organization's sign-in did not let you in" })).toBeVisible();
    await shot(ann.page, testInfo, "sso-refused");
    await ann.page.goto("/account");
    await expect(ann.page).toHaveURL(/\/sign-in/);
    await ann.context.close();

    // The console shows who came in through the provider.
    await page.goto("/admin/audit?type=user.signed_in");
    await expect(page.getByText("lee@initech.example").first()).toBeVisible();
    const unexpected = errors.filter((e) => !e.includes("status of 422"));
    expect(unexpected, "no script errors or CSP violations").toEqual([]);
  } finally {
    idp.close();
  }
});
