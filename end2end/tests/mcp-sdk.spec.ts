import { test, expect, type Page, type TestInfo } from "@playwright/test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from "@modelcontextprotocol/sdk/shared/auth.js";
import { createServer, type Server } from "node:https";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { MCP_RESOURCE, TLS_DIR } from "../playwright.config";
import { enrolTotp, shot, signInWithPassword } from "./support";

// The official MCP TypeScript SDK, unmodified from npm, as an agent would use it: it connects
// to the demo MCP server (`mandate demo-mcp`, Streamable HTTP), is refused with 401, discovers
// Mandate through the server's Protected Resource Metadata, registers itself (DCR), and sends
// the person through Mandate's real pages in Chromium. Then a tool needing more than the token
// has answers 403 insufficient_scope, and the step-up goes through the pages again: only the
// new scope to approve, and a second factor because that scope is sensitive. The same flow
// runs twice: the SDK registering itself (DCR), and the SDK naming a Client ID Metadata
// Document served over https on localhost.

const REDIRECT = "http://127.0.0.1:8979/callback";
const AGENT = "MCP SDK browser test";

/** The agent's side of OAuth, kept in memory; the browser is where the person answers. */
class BrowserAuthProvider implements OAuthClientProvider {
  private info?: OAuthClientInformationMixed;
  private stored?: OAuthTokens;
  private verifier = "";
  authorizationUrl?: URL;

  /** `clientMetadataUrl`: identify by this metadata document instead of registering. */
  constructor(readonly clientMetadataUrl?: string) {}

  get redirectUrl() {
    return REDIRECT;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: AGENT,
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

/** The whole journey for `provider` and the person `email`; `trust` is the consent page's badge. */
async function connectAndStepUp(
  page: Page,
  testInfo: TestInfo,
  provider: BrowserAuthProvider,
  who: { email: string; tenant: string; trust: string },
) {
  // 1. Unauthenticated: 401 → discovery → registration or the document → authorization URL.
  const first = new StreamableHTTPClientTransport(new URL(MCP_RESOURCE), { authProvider: provider });
  await expect(new Client({ name: "mandate-e2e", version: "1.0.0" }).connect(first)).rejects.toThrow(UnauthorizedError);
  const url = provider.authorizationUrl!;
  expect(url.pathname).toBe("/s/demo-notes/authorize");
  expect(url.searchParams.get("code_challenge_method")).toBe("S256");
  expect(url.searchParams.get("resource")).toBe(MCP_RESOURCE);
  expect(url.searchParams.get("scope"), "the 401 challenge's scope: start small").toBe("notes.read");
  if (provider.clientMetadataUrl) {
    expect(url.searchParams.get("client_id"), "the document's URL is the client id").toBe(provider.clientMetadataUrl);
  } else {
    expect(provider.clientInformation()?.client_id, "registered (DCR)").toBeTruthy();
  }

  // 2. The person signs in, picks the organization and allows reading notes.
  const code = await codeFromBrowser(page, url, async (page) => {
    await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
    await signInWithPassword(page, who.email);
    await expect(page.getByRole("heading", { name: "Choose an organization" })).toBeVisible();
    await page.getByLabel(who.tenant).check();
    await page.getByRole("button", { name: "Continue" }).click();
    await expect(page.getByRole("heading", { level: 1 })).toContainText(`Allow ${AGENT}`);
    await expect(page.getByText(who.trust, { exact: true })).toBeVisible();
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
    await page.getByLabel(who.tenant).check();
    await page.getByRole("button", { name: "Continue" }).click();
    await expect(page).toHaveURL(/\/account\?journey=/);
    await enrolTotp(page, testInfo);
    await page.getByRole("button", { name: "Continue to the application" }).click();
    await expect(page.getByRole("heading", { level: 1 })).toContainText(`Allow ${AGENT}`);
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
  const created = text(await client.callTool({ name: "create_note", arguments: { title: "Plan", body: "Ship it" } }));
  expect(created).toMatch(/^Created note #\d+\.$/);
  const id = created.match(/#(\d+)/)![1];
  expect(text(await client.callTool({ name: "list_notes", arguments: {} })), "notes are per organization").toBe(`#${id} Plan: Ship it`);
  await client.close();
}

test("the MCP TypeScript SDK registers (DCR), connects through Mandate, calls a tool, then steps up for a sensitive one", async ({ page }, testInfo) => {
  await connectAndStepUp(page, testInfo, new BrowserAuthProvider(), {
    email: "e2e-mcp@example.com",
    tenant: "Acme Corp",
    trust: "self-registered (DCR)",
  });
});

test("the same with the SDK identified by a Client ID Metadata Document over https", async ({ page }, testInfo) => {
  // The document, served with the certificate start-server.sh made (Mandate trusts it through
  // MANDATE_CIMD_EXTRA_CA_FILE and MANDATE_CIMD_ALLOW_LOOPBACK, test-only settings).
  let documentUrl = "";
  let fetched = 0;
  const server: Server = createServer(
    { cert: readFileSync(join(TLS_DIR, "cert.pem")), key: readFileSync(join(TLS_DIR, "key.pem")) },
    (req, res) => {
      if (req.url !== "/agents/notes-agent.json") {
        res.writeHead(404).end();
        return;
      }
      fetched += 1;
      res.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=300" });
      res.end(JSON.stringify({
        client_id: documentUrl,
        client_name: AGENT,
        redirect_uris: [REDIRECT],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "none",
      }));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  documentUrl = `https://localhost:${(server.address() as AddressInfo).port}/agents/notes-agent.json`;
  try {
    const provider = new BrowserAuthProvider(documentUrl);
    await connectAndStepUp(page, testInfo, provider, {
      email: "e2e-cimd@example.com",
      tenant: "Globex",
      trust: "metadata document (CIMD)",
    });
    expect(fetched, "Mandate fetched the document").toBeGreaterThan(0);
    expect(provider.clientInformation()?.client_id, "the document's URL, nothing registered").toBe(documentUrl);
  } finally {
    server.close();
  }
});
