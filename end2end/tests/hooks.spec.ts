import { test, expect } from "@playwright/test";
import { createServer, type IncomingHttpHeaders } from "node:http";
import { type AddressInfo } from "node:net";
import { DEMO_PASSWORD } from "../playwright.config";
import { shot, signInAsAdmin, watchForErrors } from "./support";

// Issuance hooks through the real pages: an admin adds a hook to a new MCP server on the
// console (its signing key shown once), and a person's consent on that server meets the
// hook's deny: no code, the hook's message, and a way back that gives the client
// access_denied. The hook is a plain node HTTP server started by the test on loopback
// (start-server.sh sets MANDATE_INTEGRATIONS_NETWORK=loopback).

test("an admin adds an issuance hook and its deny reaches the person with a way back", async ({ page, browser }, testInfo) => {
  const calls: { headers: IncomingHttpHeaders; body: any }[] = [];
  const hook = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk) => (raw += chunk));
    req.on("end", () => {
      calls.push({ headers: req.headers, body: JSON.parse(raw) });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ decision: "deny", message: "Tickets agents need a manager's approval first." }));
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
  const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  try {
    const errors = watchForErrors(page);
    await signInAsAdmin(page, "hooker");
    await page.getByRole("link", { name: "MCP servers" }).click();
    await page.getByRole("link", { name: "New MCP server" }).click();
    await page.getByLabel("Name", { exact: true }).fill("E2E Hooked");
    await page.getByLabel("Slug").fill("e2e-hooked");
    await page.getByLabel("Resource URL").fill("https://hooked.e2e.example/mcp");
    await page.locator('input[name="s0_name"]').fill("hooked.read");
    await page.locator('input[name="s0_display_name"]').fill("Read hooked things");
    await page.getByRole("button", { name: "Create server" }).click();
    const hooks = page.getByTestId("hooks");
    await expect(hooks).toContainText("No hooks");

    // A URL the hook form refuses comes back beside its field.
    await page.locator('input[name="hook_name"]').fill("Approvals");
    await page.locator('input[name="hook_url"]').fill("http://approvals.e2e.example/hook");
    await page.getByRole("button", { name: "Add hook" }).click();
    await expect(page.locator('[data-field="hook_url"]')).toContainText("https");
    await page.locator('input[name="hook_url"]').fill(hookUrl);
    await page.getByRole("button", { name: "Add hook" }).click();
    await expect(page.getByTestId("new-hook-key")).toContainText("mdt_hk_");
    await expect(page.getByTestId("hook-row")).toContainText(hookUrl);
    await shot(page, testInfo, "hooks-panel");
    // Shown once: the page opened again lists the hook without its key.
    await page.goto(page.url());
    await expect(page.getByTestId("hook-row")).toContainText("Approvals");
    await expect(page.getByTestId("new-hook-key")).toHaveCount(0);

    const context = await browser.newContext();
    const person = await context.newPage();
    const params = new URLSearchParams({
      response_type: "code",
      client_id: "demo-agent",
      redirect_uri: "http://127.0.0.1:8982/callback",
      scope: "hooked.read",
      state: "hooked-e2e",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256",
      resource: "https://hooked.e2e.example/mcp",
      tenant: "acme",
    });
    await person.goto(`/s/e2e-hooked/authorize?${params}`);
    await person.getByLabel("Email").fill("e2e-hook@example.com");
    await person.getByLabel("Password").fill(DEMO_PASSWORD);
    await person.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(person.getByRole("heading", { level: 1 })).toContainText("Allow Demo Agent");
    await person.getByRole("button", { name: "Allow" }).click();
    await expect(person.getByRole("heading", { name: "Access was not granted" })).toBeVisible();
    await expect(person.getByRole("alert")).toHaveText("Tickets agents need a manager's approval first.");
    const back = new URL((await person.getByTestId("back-to-app").getAttribute("href")) ?? "");
    expect(back.origin + back.pathname).toBe("http://127.0.0.1:8982/callback");
    expect(back.searchParams.get("error")).toBe("access_denied");
    expect(back.searchParams.get("state")).toBe("hooked-e2e");
    expect(back.searchParams.get("code")).toBeNull();
    await shot(person, testInfo, "hook-denied");
    await context.close();

    expect(calls).toHaveLength(1);
    expect(String(calls[0].headers["mandate-signature"])).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(calls[0].body.user.email).toBe("e2e-hook@example.com");
    expect(calls[0].body.scopes).toEqual(["hooked.read"]);
    const unexpected = errors.filter((e) => !e.includes("status of 422"));
    expect(unexpected, "no script errors or CSP violations").toEqual([]);
  } finally {
    hook.close();
  }
});
