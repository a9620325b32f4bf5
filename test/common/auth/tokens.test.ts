/** The token file: its format, its problems (by line, never the token), roles, and the lookup. */
import { describe, expect, it } from "vitest";
import { bearerToken, parseTokenFile, roleAllows, type Role } from "../../../common/auth/tokens.js";

const VIEWER = "v".repeat(16) + "-viewer";
const OPERATOR = "o".repeat(16) + "-operator";
const INGEST = "i".repeat(16) + ":with:colons";

const FILE = `# role:name:token\n\nviewer:grafana:${VIEWER}\noperator:alice:${OPERATOR}\r\ningest:vllm-prod:${INGEST}\n`;

describe("token file", () => {
  it("reads role:name:token lines, skipping comments and blank lines, the token running to the end of the line", () => {
    const parsed = parseTokenFile(FILE);
    if (!parsed.ok) throw new Error(parsed.problems.join("; "));
    expect(parsed.tokens.size).toBe(3);
    expect(parsed.tokens.verify(VIEWER)).toEqual({ name: "grafana", role: "viewer" });
    expect(parsed.tokens.verify(OPERATOR)).toEqual({ name: "alice", role: "operator" });
    expect(parsed.tokens.verify(INGEST)).toEqual({ name: "vllm-prod", role: "ingest" });
  });

  it.each([
    ["an unknown token", `${VIEWER}x`],
    ["a prefix of a token", VIEWER.slice(0, -1)],
    ["the empty string", ""],
  ])("knows nobody for %s", (_name, token) => {
    const parsed = parseTokenFile(FILE);
    expect(parsed.ok && parsed.tokens.verify(token)).toBeUndefined();
  });

  it.each([
    ["a line without two colons", "viewer-only-and-no-token\n", /tokens:1: expected role:name:token/],
    ["an unknown role", `admin:bob:${VIEWER}\n`, /tokens:1: unknown role "admin"/],
    ["a short token", "viewer:bob:short\n", /tokens:1: token shorter than 16/],
    ["a token used twice", `viewer:a:${VIEWER}\noperator:b:${VIEWER}\n`, /tokens:2: token used twice/],
    ["a file with no tokens", "# nothing\n", /tokens: no tokens/],
  ])("reports %s by line without quoting the token", (_name, text, message) => {
    const parsed = parseTokenFile(text, "tokens");
    expect(parsed.ok).toBe(false);
    const problems = parsed.ok ? "" : parsed.problems.join("\n");
    expect(problems).toMatch(message);
    expect(problems).not.toContain(VIEWER);
  });
});

describe("roles", () => {
  it.each<[Role, Role, boolean]>([
    ["viewer", "viewer", true],
    ["operator", "viewer", true],
    ["operator", "operator", true],
    ["viewer", "operator", false],
    ["ingest", "viewer", false],
    ["operator", "ingest", false],
    ["ingest", "ingest", true],
  ])("a %s token allows what %s needs: %s", (held, needed, allowed) => {
    expect(roleAllows(held, needed)).toBe(allowed);
  });
});

describe("Authorization header", () => {
  it.each([
    ["Bearer abc", "abc"],
    ["bearer   abc ", "abc"],
    ["Basic abc", undefined],
    ["Bearer", undefined],
    ["Bearer a b", undefined],
    [undefined, undefined],
  ])("%j carries token %j", (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});
