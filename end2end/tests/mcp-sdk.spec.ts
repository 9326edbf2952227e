import { test, expect, type Page } from "@playwright/test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from "@modelcontextprotocol/sdk/shared/auth.js";
import { MCP_RESOURCE } from "../playwright.config";
import { enrolTotp, shot, signInWithPassword } from "./support";

// The official MCP TypeScript SDK, unmodified from npm, as an agent would use it: it connects
// to the demo MCP server (`mandate demo-mcp`, Streamable HTTP), is refused with 401, discovers
// Mandate through the server's Protected Resource Metadata, registers itself (DCR), and sends
// the person through Mandate's real pages in Chromium. Then a tool needing more than the token
// has answers 403 insufficient_scope, and the step-up goes through the pages again: only the
// new scope to approve, and a second factor because that scope is sensitive.

const REDIRECT = "http://127.0.0.1:8979/callback";

/** The agent's side of OAuth, kept in memory; the browser is where the person answers. */
class BrowserAuthProvider implements OAuthClientProvider {
  private info?: OAuthClientInformationMixed;
  private stored?: OAuthTokens;
  private verifier = "";
  authorizationUrl?: URL;

  get redirectUrl() {
    return REDIRECT;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "MCP SDK browser test",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.stored;
  }
  saveTokens(tokens: OAuthTokens) {
    this.stored = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  /** A refresh cannot add scopes (RFC 6749 §6): forget it so a step-up asks the person. */
  forgetRefreshToken() {
    if (this.stored) this.stored = { ...this.stored, refresh_token: undefined };
  }
  scopes(): string[] {
    return (this.stored?.scope ?? "").split(" ").filter(Boolean).sort();
  }
}

/** Opens the authorization URL the SDK produced and returns the code the pages send back. */
async function codeFromBrowser(page: Page, url: URL, answer: (page: Page) => Promise<void>) {
  let callback: string | undefined;
  await page.route("http://127.0.0.1:8979/**", async (route) => {
    callback = route.request().url();
    await route.fulfill({ status: 200, contentType: "text/plain", body: "done" });
  });
  await page.goto(url.href);
  await answer(page);
  await expect.poll(() => callback).toBeTruthy();
  await page.unroute("http://127.0.0.1:8979/**");
  const params = new URL(callback!).searchParams;
  expect(params.get("iss"), "RFC 9207 issuer on the callback").toMatch(/\/s\/demo-notes$/);
  return params.get("code")!;
}

async function connect(provider: BrowserAuthProvider) {
  const transport = new StreamableHTTPClientTransport(new URL(MCP_RESOURCE), { authProvider: provider });
  const client = new Client({ name: "mandate-e2e", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

function text(result: Awaited<ReturnType<Client["callTool"]>>): string {
  const content = result.content as Array<{ type: string; text?: string }>;
  return content.map((c) => c.text ?? "").join("\n");
}

test("the MCP TypeScript SDK connects through Mandate (DCR), calls a tool, then steps up for a sensitive one", async ({ page }, testInfo) => {
  const provider = new BrowserAuthProvider();

  // 1. Unauthenticated: 401 → discovery → dynamic registration → authorization URL.
  const first = new StreamableHTTPClientTransport(new URL(MCP_RESOURCE), { authProvider: provider });
  await expect(new Client({ name: "mandate-e2e", version: "1.0.0" }).connect(first)).rejects.toThrow(UnauthorizedError);
  const url = provider.authorizationUrl!;
  expect(url.pathname).toBe("/s/demo-notes/authorize");
  expect(url.searchParams.get("code_challenge_method")).toBe("S256");
  expect(url.searchParams.get("resource")).toBe(MCP_RESOURCE);
  expect(url.searchParams.get("scope"), "the 401 challenge's scope: start small").toBe("notes.read");
  expect(provider.clientInformation()?.client_id).toBeTruthy();

  // 2. The person signs in, picks the organization and allows reading notes.
  const code = await codeFromBrowser(page, url, async (page) => {
    await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
    await signInWithPassword(page, "e2e-mcp@example.com");
    await expect(page.getByRole("heading", { name: "Choose an organization" })).toBeVisible();
    await page.getByLabel(/Acme Corp/).check();
    await page.getByRole("button", { name: "Continue" }).click();
    await expect(page.getByRole("heading", { level: 1 })).toContainText("Allow MCP SDK browser test");
    await expect(page.getByText("self-registered (DCR)")).toBeVisible();
    await shot(page, testInfo, "mcp-consent");
    await page.getByRole("button", { name: "Allow" }).click();
  });
  await first.finishAuth(code);
  expect(provider.scopes()).toEqual(["notes.read"]);

  // 3. Connected: the tools are listed and list_notes works.
  let { client } = await connect(provider);
  const tools = (await client.listTools()).tools.map((t) => t.name).sort();
  expect(tools).toEqual(["create_note", "list_notes", "share_note"]);
  expect(text(await client.callTool({ name: "list_notes", arguments: {} }))).toBe("No notes yet.");

  // 4. create_note needs notes.write: the server answers 403 insufficient_scope. The SDK
  //    first tries its refresh token, which cannot add a scope, and gives up on the retry.
  const refused = await client.callTool({ name: "create_note", arguments: { title: "Plan" } }).catch((e) => e);
  expect(refused).toBeInstanceOf(StreamableHTTPError);
  expect((refused as StreamableHTTPError).code).toBe(403);
  await client.close();

  // 5. Without a refresh token the SDK's step-up starts a new authorization for what the
  //    challenge named: what the token has plus notes.write.
  provider.forgetRefreshToken();
  const stepUp = new StreamableHTTPClientTransport(new URL(MCP_RESOURCE), { authProvider: provider });
  client = new Client({ name: "mandate-e2e", version: "1.0.0" });
  await client.connect(stepUp);
  await expect(client.callTool({ name: "create_note", arguments: { title: "Plan" } })).rejects.toThrow(UnauthorizedError);
  const stepUpUrl = provider.authorizationUrl!;
  expect(stepUpUrl.searchParams.get("scope")?.split(" ").sort()).toEqual(["notes.read", "notes.write"]);

  // 6. notes.write is sensitive and this person has no second factor: set one up, come back,
  //    and approve only what is new (reading was allowed before).
  const stepUpCode = await codeFromBrowser(page, stepUpUrl, async (page) => {
    await expect(page.getByRole("heading", { name: "Choose an organization" })).toBeVisible();
    await page.getByLabel(/Acme Corp/).check();
    await page.getByRole("button", { name: "Continue" }).click();
    await expect(page).toHaveURL(/\/account\?journey=/);
    await enrolTotp(page, testInfo);
    await page.getByRole("button", { name: "Continue to the application" }).click();
    await expect(page.getByRole("heading", { level: 1 })).toContainText("Allow MCP SDK browser test");
    const write = page.locator("li.scope", { hasText: "notes.write" });
    const read = page.locator("li.scope", { hasText: "notes.read" });
    await expect(write.locator(".badge.new")).toBeVisible();
    await expect(write.locator(".badge.warn")).toHaveText("sensitive");
    await expect(read.locator(".badge.new")).toHaveCount(0);
    await expect(read).toContainText("allowed before");
    await shot(page, testInfo, "mcp-step-up-consent");
    await page.getByRole("button", { name: "Allow" }).click();
  });
  await stepUp.finishAuth(stepUpCode);
  expect(provider.scopes()).toEqual(["notes.read", "notes.write"]);
  await client.close();

  // 7. The same call now goes through, and the note is there for list_notes.
  ({ client } = await connect(provider));
  expect(text(await client.callTool({ name: "create_note", arguments: { title: "Plan", body: "Ship it" } }))).toBe("Created note #1.");
  expect(text(await client.callTool({ name: "list_notes", arguments: {} }))).toBe("#1 Plan: Ship it");
  await client.close();
});
