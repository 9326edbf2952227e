import { test, expect, type Page, type TestInfo } from "@playwright/test";
import { DEMO_PASSWORD, MCP_RESOURCE } from "../playwright.config";
import { shot, signInAsAdmin, watchForErrors } from "./support";

// The operator's console through the real pages: the dashboard's SVG charts, the audit
// viewer filtered by agent with its event drawer, and the live tail. Each test signs in as its
// own admin, made by `mandate admin create` in start-server.sh (a one-time password, replaced
// at the first sign-in).

/** Registers an agent by DCR on the demo MCP server's issuer; returns its client id. */
async function registerAgent(page: Page, name: string): Promise<string> {
  const res = await page.request.post("/s/demo-notes/register", {
    data: {
      client_name: name,
      redirect_uris: ["http://127.0.0.1:8979/callback"],
      token_endpoint_auth_method: "none",
      application_type: "native",
    },
  });
  expect(res.status()).toBe(201);
  return (await res.json()).client_id;
}

test("the dashboard draws its charts; the viewer filters by agent and opens an event", async ({ page }, testInfo: TestInfo) => {
  const errors = watchForErrors(page);
  const first = await registerAgent(page, "Audit Agent One");
  const second = await registerAgent(page, "Audit Agent Two");
  await signInAsAdmin(page, "auditor1");

  // Four charts drawn as SVG by the server, each with its lines and totals.
  const charts = page.locator("figure.chart");
  await expect(charts).toHaveCount(4);
  for (const id of ["tokens", "consents", "sign-in-failures", "registrations"]) {
    const chart = page.locator(`figure[data-chart="${id}"]`);
    await expect(chart.locator("svg polyline")).toHaveCount(2);
    await expect(chart.locator("svg")).toHaveAttribute("role", "img");
  }
  const registered = page.locator('figure[data-chart="registrations"] li', { hasText: "Registered" });
  expect(Number(await registered.locator("[data-total]").textContent())).toBeGreaterThanOrEqual(2);
  await shot(page, testInfo, "dashboard");

  await page.getByRole("link", { name: "Audit trail" }).click();
  await expect(page.getByRole("heading", { name: "Audit trail" })).toBeVisible();
  const rows = page.getByTestId("audit-events").locator("tbody tr");
  await expect(rows.filter({ hasText: "Audit Agent Two" })).not.toHaveCount(0);

  await page.getByLabel("Agent").fill(first);
  await page.getByRole("button", { name: "Apply filters" }).click();
  await expect(page).toHaveURL(new RegExp(`agent=${first}`));
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText("agent.registered");
  await expect(rows.first()).toContainText("Audit Agent One");
  await expect(page.getByText("Audit Agent Two")).toHaveCount(0);
  await shot(page, testInfo, "audit-filtered");

  await rows.first().locator("td").first().getByRole("link").click();
  const drawer = page.getByTestId("event-detail");
  await expect(drawer).toBeVisible();
  await expect(drawer.locator("pre")).toContainText(`"agent_id": "${first}"`);
  await expect(drawer.locator("pre")).toContainText('"kind": "dcr"');
  await shot(page, testInfo, "audit-event");
  await drawer.getByRole("link", { name: "Close" }).click();
  await expect(drawer).toHaveCount(0);
  expect(second).not.toBe(first);
  expect(errors, "no script errors or CSP violations").toEqual([]);
});

test("the live tail shows a new sign-in within 2 seconds", async ({ page, browser }, testInfo: TestInfo) => {
  const errors = watchForErrors(page);
  await signInAsAdmin(page, "auditor2");
  await page.goto("/admin/audit?range=1h&type=user.signed_in");
  const live = page.getByTestId("live-tail");
  await expect(live).toBeEnabled(); // hydrated
  await live.click();
  await expect(page.getByText("Live: new events appear at the top.")).toBeVisible();

  // Someone signs in elsewhere.
  const other = await browser.newContext();
  const person = await other.newPage();
  await person.goto("/sign-in");
  await person.getByLabel("Email").fill("e2e-tail@example.com");
  await person.getByLabel("Password").fill(DEMO_PASSWORD);
  await person.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(person.getByRole("heading", { name: "Your account" })).toBeVisible();
  const signedInAt = Date.now();

  const liveRow = page.getByTestId("live-rows").locator("tr", { hasText: "e2e-tail@example.com" });
  await expect(liveRow).toBeVisible({ timeout: 2_000 });
  expect(Date.now() - signedInAt).toBeLessThan(2_000);
  await expect(liveRow).toHaveAttribute("data-type", "user.signed_in");
  await shot(page, testInfo, "audit-live-tail");
  await other.close();

  await live.click();
  await expect(live).toHaveText("Live tail");
  expect(errors, "no script errors or CSP violations").toEqual([]);
});

test("an admin writes a policy through the form, simulates it, and the consent screen follows it", async ({ page, browser }, testInfo: TestInfo) => {
  const errors = watchForErrors(page);
  await signInAsAdmin(page, "auditor3");
  await page.getByRole("link", { name: "Policies" }).click();
  await expect(page.getByRole("heading", { name: "Policies", exact: true })).toBeVisible();

  // A refused form keeps what was typed and says what is wrong beside the field.
  await page.getByLabel("Description").fill("Only reading on the demo server");
  await page.getByRole("button", { name: "Create policy" }).click();
  await expect(page.locator('[data-field="name"]')).toBeVisible();
  await expect(page.locator('[data-field="allows"]')).toBeVisible();
  await expect(page.getByLabel("Description")).toHaveValue("Only reading on the demo server");

  await page.getByLabel("Name", { exact: true }).fill("Demo: read only");
  await page.locator('input[name="allow"][value$="|notes.read"]').check();
  await page.getByRole("button", { name: "Create policy" }).click();
  const policy = page.getByTestId("policies").locator("li", { hasText: "Demo: read only" });
  await expect(policy).toContainText("Allows: Demo Notes: notes.read");
  await shot(page, testInfo, "policies");

  try {
    // The simulator: notes.write is no longer available to anyone.
    await page.getByRole("link", { name: "Try the simulator" }).click();
    await page.getByLabel("User").fill("e2e-policy@example.com");
    await page.getByLabel("Tenant").selectOption("acme");
    await page.getByLabel("Agent").fill("demo-agent");
    await page.getByLabel("MCP server").selectOption("demo-notes");
    await page.getByLabel("Requested scopes").fill("notes.read notes.write");
    await page.getByRole("button", { name: "Simulate" }).click();
    const before = page.getByTestId("sim-before");
    await expect(before.getByTestId("sim-before-effective")).toHaveText(/notes\.read/);
    await expect(before.getByTestId("sim-before-effective")).not.toHaveText(/notes\.write/);
    await expect(before).toContainText("Demo: read only");
    await shot(page, testInfo, "simulator");

    // A person's consent screen shows the policy's effect.
    const context = await browser.newContext();
    const person = await context.newPage();
    await person.route("http://127.0.0.1:8981/**", (route) => route.fulfill({ status: 200, body: "done" }));
    const params = new URLSearchParams({
      response_type: "code",
      client_id: "demo-agent",
      redirect_uri: "http://127.0.0.1:8981/callback",
      scope: "notes.read notes.write",
      state: "policy-e2e",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256",
      resource: MCP_RESOURCE,
      tenant: "acme",
    });
    await person.goto(`/s/demo-notes/authorize?${params}`);
    await person.getByLabel("Email").fill("e2e-policy@example.com");
    await person.getByLabel("Password").fill(DEMO_PASSWORD);
    await person.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(person.getByRole("heading", { name: /^Allow / })).toBeVisible();
    await expect(person.getByText("No policy of this hub allows it for you with this agent.")).toBeVisible();
    await shot(person, testInfo, "consent-under-policy");
    await context.close();
  } finally {
    // The demo server is shared with the other browser tests: take the policy away again.
    await page.goto("/admin/policies");
    await policy.getByLabel("Yes, delete").check();
    await policy.getByRole("button", { name: /Delete/ }).click();
    await expect(page.getByText("No policies yet")).toBeVisible();
  }
  // The refused form's page is answered with 422 on purpose (Chromium logs any error status).
  const unexpected = errors.filter((e) => !e.includes("status of 422"));
  expect(unexpected, "no script errors or CSP violations").toEqual([]);
});

test("an admin creates an MCP server with scopes, a policy on it, and a person's consent on it follows the policy", async ({ page, browser }, testInfo: TestInfo) => {
  const errors = watchForErrors(page);
  await signInAsAdmin(page, "registrar");
  await page.getByRole("link", { name: "MCP servers" }).click();
  await page.getByRole("link", { name: "New MCP server" }).click();
  await expect(page.getByRole("heading", { name: "New MCP server" })).toBeVisible();

  // A wrong slug is refused beside its field, with what was typed kept.
  await page.getByLabel("Name", { exact: true }).fill("E2E Tickets");
  await page.getByLabel("Slug").fill("E2E Tickets");
  await page.getByLabel("Resource URL").fill("https://tickets.e2e.example/mcp");
  await page.locator('input[name="s0_name"]').fill("tickets.read");
  await page.locator('input[name="s0_display_name"]').fill("Read your tickets");
  await page.locator('input[name="s1_name"]').fill("tickets.close");
  await page.locator('input[name="s1_display_name"]').fill("Close tickets");
  await page.getByRole("button", { name: "Create server" }).click();
  await expect(page.locator('[data-field="slug"]')).toBeVisible();
  await expect(page.getByLabel("Resource URL")).toHaveValue("https://tickets.e2e.example/mcp");

  await page.getByLabel("Slug").fill("e2e-tickets");
  await page.getByRole("button", { name: "Create server" }).click();
  const links = page.getByTestId("server-links");
  await expect(links).toContainText("/s/e2e-tickets");
  await expect(links).toContainText('"resource": "https://tickets.e2e.example/mcp"');
  await shot(page, testInfo, "mcp-server");
  // The new issuer answers discovery at once.
  const meta = await page.request.get("/.well-known/oauth-authorization-server/s/e2e-tickets");
  expect((await meta.json()).scopes_supported).toEqual(["tickets.read", "tickets.close"]);

  // A policy on the new server: reading only.
  await page.getByRole("link", { name: "Policies" }).click();
  await page.getByLabel("Name", { exact: true }).fill("Tickets: read only");
  await page.locator('input[name="allow"][value$="|tickets.read"]').check();
  await page.getByRole("button", { name: "Create policy" }).click();
  await expect(page.getByTestId("policies").locator("li", { hasText: "Tickets: read only" }))
    .toContainText("Allows: E2E Tickets: tickets.read");

  await page.getByRole("link", { name: "Try the simulator" }).click();
  await page.getByLabel("User").fill("e2e-policy@example.com");
  await page.getByLabel("Tenant").selectOption("acme");
  await page.getByLabel("Agent").fill("demo-agent");
  await page.getByLabel("MCP server").selectOption("e2e-tickets");
  await page.getByLabel("Requested scopes").fill("tickets.read tickets.close");
  await page.getByRole("button", { name: "Simulate" }).click();
  const effective = page.getByTestId("sim-before").getByTestId("sim-before-effective");
  await expect(effective).toHaveText(/tickets\.read/);
  await expect(effective).not.toHaveText(/tickets\.close/);

  // The person's consent screen on the new server follows the policy.
  const context = await browser.newContext();
  const person = await context.newPage();
  const params = new URLSearchParams({
    response_type: "code",
    client_id: "demo-agent",
    redirect_uri: "http://127.0.0.1:8981/callback",
    scope: "tickets.read tickets.close",
    state: "tickets-e2e",
    code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    code_challenge_method: "S256",
    resource: "https://tickets.e2e.example/mcp",
    tenant: "acme",
  });
  await person.goto(`/s/e2e-tickets/authorize?${params}`);
  await person.getByLabel("Email").fill("e2e-policy@example.com");
  await person.getByLabel("Password").fill(DEMO_PASSWORD);
  await person.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(person.getByRole("heading", { name: /^Allow / })).toBeVisible();
  await expect(person.getByText("Read your tickets")).toBeVisible();
  await expect(person.getByText("No policy of this hub allows it for you with this agent.")).toBeVisible();
  await shot(person, testInfo, "consent-on-new-server");
  await context.close();

  const unexpected = errors.filter((e) => !e.includes("status of 422"));
  expect(unexpected, "no script errors or CSP violations").toEqual([]);
});

test("an admin creates a machine agent, copies its secret once, and disables it", async ({ page }, testInfo: TestInfo) => {
  const errors = watchForErrors(page);
  await signInAsAdmin(page, "keeper");
  await page.getByRole("link", { name: "Agents" }).click();
  await expect(page.getByRole("heading", { name: "Agents", exact: true })).toBeVisible();
  await expect(page.getByTestId("agents").locator('tr[data-agent="demo-agent"]')).toBeVisible();

  await page.getByLabel("Name", { exact: true }).fill("E2E nightly sync");
  await page.getByLabel("Tags").fill("e2e, nightly");
  await page.locator('input[name="allow"][value$="|notes.read"]').first().check();
  await page.getByRole("button", { name: "Create agent" }).click();
  const secret = (await page.getByTestId("new-client-secret").textContent()) ?? "";
  const clientId = (await page.getByTestId("new-client-id").textContent()) ?? "";
  expect(secret).toMatch(/^mdt_cs_/);
  await shot(page, testInfo, "machine-agent-created");

  // The secret works for client_credentials, within the allowance only.
  const basic = Buffer.from(`${clientId}:${secret}`).toString("base64");
  const token = async (scope: string) =>
    page.request.post("/s/demo-notes/token", {
      headers: { authorization: `Basic ${basic}` },
      form: { grant_type: "client_credentials", scope },
    });
  expect((await token("notes.read")).status()).toBe(200);
  expect((await token("notes.write")).status()).toBe(400);

  // Filter the list by tag, open the agent; the secret is never shown again.
  await page.goto("/admin/agents?tag=nightly");
  await page.getByRole("link", { name: "E2E nightly sync" }).click();
  await expect(page.getByTestId("agent-facts")).toContainText(clientId);
  await expect(page.locator("body")).not.toContainText(secret);
  await page.getByRole("button", { name: "Disable (revokes its tokens)" }).click();
  await expect(page.getByText("disabled", { exact: true })).toBeVisible();
  expect((await token("notes.read")).status()).toBe(401);
  expect(errors, "no script errors or CSP violations").toEqual([]);
});
