import { describe, expect, it } from "vitest";
import { bannerEvent, bannerLines, type UpFacts } from "../../cli/up-banner.js";

const simulated: UpFacts = {
  version: "0.1.0",
  fleet: { kind: "simulated", scenario: "default", nodes: 4, gpus: 20 },
  analyzer: "http://127.0.0.1:9465",
  hasTokens: false,
  agentMetrics: [
    "http://127.0.0.1:9464/metrics",
    "http://127.0.0.1:40001/metrics",
    "http://127.0.0.1:40002/metrics",
    "http://127.0.0.1:40003/metrics",
  ],
  otlp: { http: "127.0.0.1:4318", grpc: "127.0.0.1:4317" },
};
const real: UpFacts = {
  ...simulated,
  fleet: { kind: "real", library: "libnvidia-ml.so.1" },
  analyzer: "https://10.0.0.5:9465",
  hasTokens: true,
  agentMetrics: ["http://10.0.0.5:9464/metrics"],
  otlp: {},
};

describe("the banner of inferwatch up", () => {
  it("says a simulated fleet is simulated, names every URL and ends with the console", () => {
    const lines = bannerLines(simulated);
    expect(lines[0]).toBe(
      'inferwatch 0.1.0 is up on SIMULATED fleet "default": 4 nodes, 20 GPUs (no NVML library on this machine; every GPU series is labelled source="simulated")',
    );
    const text = lines.join("\n");
    expect(text).toContain("4 agents, one per simulated node; http://127.0.0.1:9464/metrics (3 more on loopback)");
    expect(text).toContain("http://127.0.0.1:4318/v1/traces (HTTP), 127.0.0.1:4317 (gRPC)");
    expect(text).toContain("http://127.0.0.1:9465/api/v1/slos");
    expect(text).toContain("http://127.0.0.1:9465/report");
    expect(lines.at(-1)).toBe("  Console: http://127.0.0.1:9465/");
    expect(lines.length).toBeLessThanOrEqual(10);
  });

  it("says real GPUs, a token-guarded API and OTLP off", () => {
    const text = bannerLines(real).join("\n");
    expect(text).toContain("is up on real GPUs through NVML (libnvidia-ml.so.1)");
    expect(text).toContain("(bearer token, viewer role)");
    expect(text).toMatch(/OTLP spans\s+off/);
    expect(bannerLines(real).at(-1)).toBe("  Console: https://10.0.0.5:9465/");
  });

  it("gives log shippers one event with every URL as a field", () => {
    const event = bannerEvent(simulated);
    expect(event.fields).toEqual({
      console: "http://127.0.0.1:9465/",
      api: "http://127.0.0.1:9465/api/v1",
      report: "http://127.0.0.1:9465/report",
      agentMetrics: simulated.agentMetrics,
      otlp: simulated.otlp,
      simulated: true,
    });
    expect(event.message).toMatch(
      /^inferwatch is up on SIMULATED fleet .* console: http:\/\/127\.0\.0\.1:9465\/ {2}SLOs: http:\/\/127\.0\.0\.1:9465\/api\/v1\/slos/,
    );
    expect(event.message).toContain("agent metrics: http://127.0.0.1:9464/metrics");
  });
});
