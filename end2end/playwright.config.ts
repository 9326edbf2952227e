import { defineConfig } from "@playwright/test";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Mandate's pages are served by the real `mandate` binary on a fresh SQLite database with the
// demo seeded (start-server.sh). Chromium is Debian's (/usr/bin/chromium); no browser download.
const port = Number(process.env.E2E_PORT ?? 3100);
const baseURL = `http://localhost:${port}`;
const mcpPort = Number(process.env.E2E_MCP_PORT ?? 4100);
/** The demo MCP server (`mandate demo-mcp`), registered in Mandate as the demo-notes resource. */
export const MCP_RESOURCE = `http://localhost:${mcpPort}/mcp`;
/** Where start-server.sh puts a self-signed localhost certificate (cert.pem, key.pem) that
 * Mandate trusts for Client ID Metadata Documents (test-only settings, off by default). */
export const TLS_DIR = process.env.E2E_TLS_DIR ?? join(tmpdir(), `mandate-e2e-tls-${port}`);
process.env.E2E_TLS_DIR = TLS_DIR;
/** The demo user's password, handed to `mandate seed demo` by start-server.sh. */
export const DEMO_PASSWORD = process.env.E2E_DEMO_PASSWORD ?? "demo-password-for-browser-tests";
process.env.E2E_DEMO_PASSWORD = DEMO_PASSWORD;

export default defineConfig({
  testDir: "./tests",
  outputDir: process.env.E2E_OUTPUT_DIR ?? "test-results",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [["list"], ["json", { outputFile: process.env.E2E_JSON_REPORT ?? "test-results/report.json" }]],
  use: {
    baseURL,
    headless: true,
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [{ name: "chromium" }],
  webServer: [
    {
      command: "bash ./start-server.sh",
      url: `${baseURL}/readyz`,
      timeout: 120_000,
      reuseExistingServer: false,
      stdout: "ignore",
      stderr: "pipe",
      env: {
        E2E_PORT: String(port),
        E2E_DEMO_PASSWORD: DEMO_PASSWORD,
        E2E_MCP_RESOURCE: MCP_RESOURCE,
        E2E_TLS_DIR: TLS_DIR,
      },
    },
    {
      command: `"$MANDATE_BIN" demo-mcp --bind 127.0.0.1:${mcpPort} --resource-url ${MCP_RESOURCE} --issuer ${baseURL}/s/demo-notes`,
      url: `http://localhost:${mcpPort}/.well-known/oauth-protected-resource/mcp`,
      timeout: 60_000,
      reuseExistingServer: false,
      stdout: "ignore",
      stderr: "pipe",
    },
  ],
});
