import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../common/config/load.js";

function load(flags: Record<string, string>, env: Record<string, string> = {}, file?: string) {
  return loadConfig({
    flags,
    env: file === undefined ? env : { ...env, INFERWATCH_CONFIG: "/etc/inferwatch.yaml" },
    readFile: () => file ?? "",
  });
}

describe("agent.runtimes configuration", () => {
  it("is on with no targets, a 15 s interval and a 5 s timeout by default", () => {
    const result = load({});
    expect(result.ok && result.config.agent.runtimes).toMatchObject({
      enabled: true,
      interval: 15_000,
      timeout: 5_000,
      targets: [],
    });
  });

  it("takes target URLs from a flag or the environment as a comma-separated list", () => {
    const fromEnv = load(
      {},
      { INFERWATCH_RUNTIME_TARGETS: "http://10.0.0.5:8000/metrics, http://10.0.0.6:80/metrics" },
    );
    expect(fromEnv.ok && fromEnv.config.agent.runtimes.targets).toEqual([
      { url: "http://10.0.0.5:8000/metrics" },
      { url: "http://10.0.0.6:80/metrics" },
    ]);
  });

  it("takes targets with runtime, model, pod and tier from the file", () => {
    const result = load(
      {},
      {},
      [
        "agent:",
        "  runtimes:",
        "    interval: 10s",
        "    targets:",
        "      - http://127.0.0.1:8000/metrics",
        "      - { url: 'http://127.0.0.1:3000/metrics', runtime: tgi, model: mistral-7b, namespace: serving, pod: tgi-0, tier: batch }",
      ].join("\n"),
    );
    expect(result.ok && result.config.agent.runtimes).toMatchObject({
      interval: 10_000,
      targets: [
        { url: "http://127.0.0.1:8000/metrics" },
        {
          url: "http://127.0.0.1:3000/metrics",
          runtime: "tgi",
          model: "mistral-7b",
          namespace: "serving",
          pod: "tgi-0",
          tier: "batch",
        },
      ],
    });
  });

  it.each([
    [
      { "agent.runtimes.targets": "localhost:8000" },
      "agent.runtimes.targets.0.url: expected an http:// or https:// URL",
    ],
    [
      { "agent.runtimes.targets": "ftp://host/metrics" },
      "agent.runtimes.targets.0.url: expected an http:// or https:// URL",
    ],
    [
      { "agent.runtimes.targets": "http://scraper:s3cret@host:8000/metrics" },
      "agent.runtimes.targets.0.url: expected an http:// or https:// URL without user:password",
    ],
    [
      { "agent.runtimes.timeout": "20s", "agent.runtimes.interval": "10s" },
      "agent.runtimes.timeout: timeout must not exceed interval",
    ],
  ])("refuses %j with a problem naming its path", (flags, expected) => {
    const result = load(flags);
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems.join("\n")).toContain(expected);
  });

  it("never echoes the password of a refused URL in its problem", () => {
    const result = load({ "agent.runtimes.targets": "http://scraper:s3cret@host:8000/metrics" });
    expect(result.ok ? "" : result.problems.join("\n")).not.toContain("s3cret");
  });

  it("refuses an unknown runtime name", () => {
    const result = load(
      {},
      {},
      "agent:\n  runtimes:\n    targets:\n      - { url: 'http://a/metrics', runtime: llamacpp }\n",
    );
    expect(result.ok).toBe(false);
  });

  it.each(["vllm", "sglang", "tgi", "triton", "trtllm"])("takes %s as a runtime name", (runtime) => {
    const result = load(
      {},
      {},
      `agent:\n  runtimes:\n    targets:\n      - { url: 'http://a/metrics', runtime: ${runtime} }\n`,
    );
    expect(result.ok ? result.config.agent.runtimes.targets[0]?.runtime : result.problems.join("\n")).toBe(runtime);
  });
});
