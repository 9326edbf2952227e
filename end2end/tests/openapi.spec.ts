import { test, expect } from "@playwright/test";
import SwaggerParser from "@apidevtools/swagger-parser";

// The admin API's OpenAPI document, validated by an independent OpenAPI 3.1 validator
// (swagger-parser, unmodified from npm) as served by the running Mandate.

test("the admin API's OpenAPI document is valid OpenAPI 3.1", async ({ request }) => {
  const res = await request.get("/api/v1/openapi.json");
  expect(res.status()).toBe(200);
  const doc = await res.json();
  expect(doc.openapi).toBe("3.1.0");
  // validate() throws with every problem it finds; it also resolves every $ref.
  const api = (await SwaggerParser.validate(structuredClone(doc))) as { paths: Record<string, unknown> };
  expect(Object.keys(api.paths)).toEqual(expect.arrayContaining([
    "/api/v1/mcp-servers",
    "/api/v1/mcp-servers/{id}",
    "/api/v1/agents",
    "/api/v1/agents/{id}",
    "/api/v1/agents/{id}/secret",
    "/api/v1/policies",
    "/api/v1/policies/{id}",
    "/api/v1/policies/simulate",
    "/api/v1/audit/events",
    "/api/v1/audit/export",
  ]));
  // A broken document is refused: the validator is not a rubber stamp.
  const broken = structuredClone(doc);
  broken.paths["/api/v1/agents"].get.responses["200"].content["application/json"].schema = { $ref: "#/components/schemas/Nope" };
  await expect(SwaggerParser.validate(broken)).rejects.toThrow();
});
