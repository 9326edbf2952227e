import { test, expect } from "@playwright/test";
import { watchForErrors } from "./support";


test("the home page is rendered on the server, before any script runs", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const response = await page.goto("/");
  expect(response?.status()).toBe(200);
  expect(response?.headers()["content-security-policy"]).toContain("frame-ancestors 'none'");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Mandate");
  const card = page.locator("li.card[data-slug='demo-notes']");
  await expect(card).toContainText("Demo Notes");
  await expect(card).toContainText("/s/demo-notes");
  await expect(card.locator(".chip.sensitive")).toContainText("notes.write");
  // Other browser tests may have added MCP servers: every card is counted, all are shown.
  const total = await page.locator("li.card").count();
  expect(total).toBeGreaterThanOrEqual(1);
  await expect(page.locator("#filter-status")).toHaveText(`Showing ${total} of ${total}.`);
  await context.close();
});

test("the directory filter works once the page has hydrated", async ({ page }, testInfo) => {
  const errors = watchForErrors(page);
  await page.goto("/");
  const filter = page.getByLabel("Filter");
  const status = page.locator("#filter-status");
  const card = page.locator("li.card[data-slug='demo-notes']");
  await expect(card).toBeVisible();

  // Typing does nothing until the wasm has hydrated the page: retry until it reacts.
  await expect(async () => {
    await filter.fill("");
    await filter.fill("zzz");
    await expect(status).toHaveText("No MCP server matches “zzz”.", { timeout: 500 });
  }).toPass({ timeout: 20_000 });
  await expect(card).toHaveCount(0);

  await filter.fill("notes.write");
  await expect(status).toHaveText(/^Showing 1 of \d+\.$/);
  await expect(page.locator("li.card")).toHaveCount(1);
  await expect(card).toBeVisible();

  await page.screenshot({ path: testInfo.outputPath("home.png"), fullPage: true });
  expect(errors, "no script errors or CSP violations").toEqual([]);
});

test("unknown paths show a readable not-found page", async ({ page }) => {
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("This page does not exist");
  await expect(page.getByRole("link", { name: "home page" })).toHaveAttribute("href", "/");
});
