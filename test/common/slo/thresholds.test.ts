import { describe, expect, it } from "vitest";
import { configSchema } from "../../../common/config/schema.js";
import { sloConfigSchema } from "../../../common/slo/spec.js";
import { DEFAULT_SLO_THRESHOLDS, histogramThresholds, sloThresholds } from "../../../common/slo/thresholds.js";

const config = sloConfigSchema.parse({
  classes: [
    { name: "small", match: [{ model: "tiny" }], latency: { threshold: "800ms" }, ttft: { threshold: "250ms" } },
    { name: "large", match: [{ model: "huge" }], latency: { threshold: "5s" } },
  ],
});

describe("SLO thresholds", () => {
  it("are the default classes' latency thresholds when nothing is configured", () => {
    expect(DEFAULT_SLO_THRESHOLDS).toEqual([1.2, 2, 4]);
  });

  it("are the agent's default histogram thresholds, taken from the SLO spec rather than copied", () => {
    expect(configSchema.parse({}).agent.spans.sloThresholds).toEqual(DEFAULT_SLO_THRESHOLDS);
  });

  it("select end-to-end latency, TTFT or both", () => {
    expect(sloThresholds(config)).toEqual([0.25, 0.8, 5]);
    expect(sloThresholds(config, ["latency"])).toEqual([0.8, 5]);
    expect(sloThresholds(config, ["ttft"])).toEqual([0.25]);
  });

  it("merge the agent's own thresholds with the configuration's, ascending and distinct", () => {
    expect(histogramThresholds([5, 1.2], config)).toEqual([0.25, 0.8, 1.2, 5]);
  });
});
