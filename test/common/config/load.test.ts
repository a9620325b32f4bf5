import { describe, expect, it } from "vitest";
import { parseDurationMs } from "../../../common/config/duration.js";
import { parseListenAddress } from "../../../common/config/listen-address.js";
import { loadConfig, type ConfigSources } from "../../../common/config/load.js";

function load(sources: Partial<ConfigSources> & { file?: string }) {
  const files: Record<string, string> = sources.file === undefined ? {} : { "/etc/inferwatch.yaml": sources.file };
  return loadConfig({
    flags: sources.flags ?? {},
    env: sources.env ?? {},
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT: no such file ${path}`);
      return text;
    },
  });
}

function problems(result: ReturnType<typeof load>): readonly string[] {
  return result.ok ? [] : result.problems;
}

describe("configuration", () => {
  it("has working defaults", () => {
    const result = load({ env: { NODE_NAME: "gpu-node-1" } });
    expect(result.ok && result.config.agent).toMatchObject({
      metricsAddr: { host: "0.0.0.0", port: 9464 },
      interval: 1000,
      nvml: { library: "libnvidia-ml.so.1", initTimeout: 10_000 },
      pods: {
        podResourcesSocket: "/var/lib/kubelet/pod-resources/kubelet.sock",
        resourceNames: ["nvidia.com/gpu", "nvidia.com/mig-*"],
      },
    });
  });

  it("takes flags over environment over the file", () => {
    const file = "agent:\n  interval: 5s\n  nvml:\n    library: /from/file.so\n  metricsAddr: 127.0.0.1:1000\n";
    const result = load({
      file,
      env: {
        INFERWATCH_CONFIG: "/etc/inferwatch.yaml",
        INFERWATCH_INTERVAL: "2s",
        INFERWATCH_NVML_LIBRARY: "/from/env.so",
      },
      flags: { "agent.interval": "250ms" },
    });
    expect(result.ok && result.config.agent).toMatchObject({
      interval: 250,
      nvml: { library: "/from/env.so" },
      metricsAddr: { host: "127.0.0.1", port: 1000 },
    });
  });

  it("splits list settings given as flags or variables", () => {
    const result = load({ env: { INFERWATCH_GPU_RESOURCE_NAMES: "nvidia.com/gpu, example.com/gpu" } });
    expect(result.ok && result.config.agent.pods.resourceNames).toEqual(["nvidia.com/gpu", "example.com/gpu"]);
  });

  it("lists every problem with its path and where the value came from", () => {
    const file = "agent:\n  interval: soon\n  nvml:\n    libary: x\n  bogus: 1\n";
    const result = load({
      file,
      flags: { config: "/etc/inferwatch.yaml", "agent.metricsAddr": "localhost" },
      env: { INFERWATCH_HOST_METRICS: "maybe", INFERWATCH_INTERVL: "1s" },
    });
    expect(result.ok).toBe(false);
    expect([...problems(result)].sort()).toEqual(
      [
        "INFERWATCH_INTERVL: not a known setting",
        "agent.host.enabled: expected true or false (from INFERWATCH_HOST_METRICS)",
        'agent.interval: expected a positive duration such as 500ms, 1s or 5m, got "soon" (from /etc/inferwatch.yaml)',
        'agent.metricsAddr: expected host:port (e.g. 0.0.0.0:9464 or [::1]:9464), got "localhost" (from --metrics-addr)',
        "agent.nvml: unknown setting(s) libary (from /etc/inferwatch.yaml)",
        "agent: unknown setting(s) bogus (from /etc/inferwatch.yaml)",
      ].sort(),
    );
  });

  it("refuses an in-flight budget smaller than the largest body, which could never be admitted", () => {
    const result = load({ env: { INFERWATCH_OTLP_MAX_BODY: "20MiB", INFERWATCH_OTLP_MAX_INFLIGHT: "8MiB" } });
    expect(problems(result)).toEqual([
      "agent.otlp.maxInflightBytes: maxInflightBytes must be at least maxBodyBytes, or a request of the largest allowed size could never be admitted (from INFERWATCH_OTLP_MAX_INFLIGHT)",
    ]);
  });

  it("puts every SLO threshold of the SLO configuration into the agent's buckets", () => {
    const file =
      "slo:\n  classes:\n    - name: small\n      match: [{ model: tiny }]\n      latency: { threshold: 750ms }\n";
    const result = load({ file, flags: { config: "/etc/inferwatch.yaml" } });
    expect(result.ok && result.config.agent.spans.sloThresholds).toEqual([0.75, 1.2, 2, 4]);
  });

  it("reports an unreadable or malformed file", () => {
    expect(problems(load({ flags: { config: "/nope.yaml" } }))[0]).toMatch(/^\/nope\.yaml: ENOENT/);
    expect(problems(load({ file: "agent: [1, 2", flags: { config: "/etc/inferwatch.yaml" } }))[0]).toMatch(
      /^\/etc\/inferwatch\.yaml: /,
    );
    expect(problems(load({ file: "- a list", flags: { config: "/etc/inferwatch.yaml" } }))).toEqual([
      "/etc/inferwatch.yaml: expected a mapping at the top level",
    ]);
  });
});

describe("durations", () => {
  it.each([
    ["500ms", 500],
    ["1s", 1000],
    ["1m30s", 90_000],
    ["6h", 21_600_000],
    ["30d", 2_592_000_000],
    ["1.5s", 1500],
  ] as const)("reads %s as %i ms", (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(["", "1", "s", "1 s", "-1s", "1sec", "1s2"])("rejects %j", (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });
});

describe("listen addresses", () => {
  it.each([
    ["127.0.0.1:9464", { host: "127.0.0.1", port: 9464 }],
    [":9464", { host: "0.0.0.0", port: 9464 }],
    ["[::1]:0", { host: "::1", port: 0 }],
    ["gpu-node:80", { host: "gpu-node", port: 80 }],
  ] as const)("reads %s", (text, expected) => {
    expect(parseListenAddress(text)).toEqual(expected);
  });

  it.each(["9464", "host:", "host:99999", "::1:80"])("rejects %j", (text) => {
    expect(parseListenAddress(text)).toBeUndefined();
  });
});
