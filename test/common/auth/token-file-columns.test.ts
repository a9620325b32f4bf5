/**
 * A token file with its columns swapped (`token:role:name`) must not put the token in the problem
 * message, which reaches the log when the file is reloaded.
 */
import { expect, it } from "vitest";
import { parseTokenFile } from "../../../common/auth/tokens.js";

const TOKEN = "s3cr3t-token-0123456789abcdef";

it("does not quote a role field as long as a token", () => {
  const parsed = parseTokenFile(`${TOKEN}:viewer:grafana\n`, "tokens");
  expect(parsed.ok).toBe(false);
  const problems = parsed.ok ? "" : parsed.problems.join("\n");
  expect(problems).toMatch(/tokens:1: unknown role/);
  expect(problems).not.toContain(TOKEN);
});

it("still quotes a short unknown role", () => {
  const parsed = parseTokenFile(`admin:bob:${TOKEN}\n`, "tokens");
  expect(parsed.ok ? "" : parsed.problems.join("\n")).toMatch(/unknown role "admin"/);
});
