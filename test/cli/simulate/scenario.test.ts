import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import {
  DEFAULT_SCENARIO,
  DEFAULT_SCENARIO_INPUT,
  GPU_TYPES,
  parseScenario,
  parseScenarioYaml,
  scenarioTierRules,
  type ScenarioInput,
} from "../../../cli/simulate/scenario.js";

/** A JSON copy of the default input, changed by `mutate`. */
function variant(mutate: (doc: ScenarioInput & Record<string, unknown>) => void): unknown {
  const doc = JSON.parse(JSON.stringify(DEFAULT_SCENARIO_INPUT)) as ScenarioInput & Record<string, unknown>;
  mutate(doc);
  return doc;
}

function problemsOf(input: unknown): string {
  try {
    parseScenario(input, "scenario.yaml");
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected the scenario to be rejected");
}

describe("the default scenario", () => {
  it("is small enough for a laptop: 4 nodes, 20 GPUs, two pools, all four GPU types", () => {
    expect(DEFAULT_SCENARIO.nodes).toHaveLength(4);
    expect(DEFAULT_SCENARIO.nodes.reduce((sum, node) => sum + node.gpus, 0)).toBe(20);
    expect(new Set(DEFAULT_SCENARIO.nodes.map((node) => node.pool))).toEqual(new Set(["latency", "batch"]));
    expect(new Set(DEFAULT_SCENARIO.nodes.map((node) => node.gpuType))).toEqual(new Set(Object.keys(GPU_TYPES)));
  });

  it("names GPUs as NVML does", () => {
    expect(GPU_TYPES.h100.name).toBe("NVIDIA H100 80GB HBM3");
    expect(GPU_TYPES.a100.name).toBe("NVIDIA A100-SXM4-40GB");
    expect(GPU_TYPES.l40s.memoryBytes).toBe(48 * 1024 ** 3);
  });

  it("serves a 7B and a 13B on several single GPUs, a 70B on 4 GPUs of one node, and an idle model", () => {
    const replicas = (model: string) => DEFAULT_SCENARIO.replicas.filter((replica) => replica.model === model);
    expect(replicas("llama-2-7b-awq").length).toBeGreaterThan(2);
    expect(replicas("llama-2-13b-awq").length).toBeGreaterThan(2);
    expect(replicas("llama-2-70b-awq")).toEqual([{ model: "llama-2-70b-awq", node: "gpu-h100-0", gpus: [0, 1, 2, 3] }]);
    expect(DEFAULT_SCENARIO.models.find((model) => model.name === "mistral-7b-awq")?.peakRequestsPerSecond).toBe(0);
    expect(replicas("mistral-7b-awq").length).toBeGreaterThan(0);
  });

  it("has an incident on the 13B three minutes after start, 10 minutes long, every 2 hours", () => {
    expect(DEFAULT_SCENARIO.incident).toEqual({
      model: "llama-2-13b-awq",
      startAfter: 180_000,
      duration: 600_000,
      every: 7_200_000,
      slowShare: 0.3,
      thresholdSeconds: 2,
    });
  });

  it("reads back the same from its YAML text", () => {
    expect(parseScenarioYaml(stringify(DEFAULT_SCENARIO_INPUT))).toEqual(DEFAULT_SCENARIO);
  });
});

/** Ways a scenario goes wrong, and the path and message its rejection must name. */
const REJECTIONS: [string, (d: ScenarioInput) => void, string][] = [
  [
    "a replica on an unknown node",
    (d) => {
      (d.replicas[0] as { node: string }).node = "nowhere";
    },
    "replicas.0.node: unknown node nowhere",
  ],
  [
    "a replica of an unknown model",
    (d) => {
      (d.replicas[1] as { model: string }).model = "gpt-5";
    },
    "replicas.1.model: unknown model gpt-5",
  ],
  [
    "a GPU index past the node's GPUs",
    (d) => {
      (d.replicas[1] as { gpus: number[] }).gpus = [8];
    },
    "replicas.1.gpus.0: gpu-h100-0 has 8 GPUs",
  ],
  [
    "a tensor-parallel replica on the wrong number of GPUs",
    (d) => {
      (d.replicas[0] as { gpus: number[] }).gpus = [0, 1];
    },
    "holds 2 GPUs but llama-2-70b-awq is tensor-parallel 4",
  ],
  [
    "a tensor-parallel replica without NVLink",
    (d) => {
      (d.replicas[0] as { node: string }).node = "gpu-l40s-0";
    },
    "a tensor-parallel replica needs NVLink",
  ],
  [
    "more memory than the GPU has",
    (d) => {
      (d.models[1] as { memoryPerGpuGiB: number }).memoryPerGpuGiB = 30;
    },
    "replicas.12.gpus.0: GPU 1 of gpu-l4-0 is out of memory (30 GiB)",
  ],
  [
    "traffic that saturates the replicas at peak",
    (d) => {
      (d.models[0] as { peakRequestsPerSecond: number }).peakRequestsPerSecond = 100;
    },
    "models.0.peakRequestsPerSecond: llama-2-7b-awq replicas would be saturated at peak",
  ],
  [
    "an incident on an unknown model",
    (d) => {
      (d.incident as { model: string }).model = "gpt-5";
    },
    "incident.model: unknown model gpt-5",
  ],
  [
    "a day curve of 23 hours",
    (d) => {
      d.dayCurve = Array.from({ length: 23 }, () => 1);
    },
    "dayCurve",
  ],
  [
    "an unknown GPU type",
    (d) => {
      (d.nodes[0] as { gpuType: string }).gpuType = "b200";
    },
    "nodes.0.gpuType",
  ],
];

describe("scenario validation", () => {
  it.each(REJECTIONS)("rejects %s, naming the path", (_name, mutate, expected) => {
    expect(problemsOf(variant(mutate))).toContain(expected);
  });

  it("lists every problem at once", () => {
    const message = problemsOf(
      variant((d) => {
        (d.replicas[0] as { node: string }).node = "nowhere";
        (d.incident as { model: string }).model = "gpt-5";
      }),
    );
    expect(message).toMatch(/^scenario.yaml is invalid:/);
    expect(message).toContain("replicas.0.node");
    expect(message).toContain("incident.model");
  });

  it("takes `every: once` for a single incident", () => {
    const scenario = parseScenario(
      variant((d) => {
        (d.incident as { every: string }).every = "once";
      }),
    );
    expect(scenario.incident?.every).toBeNull();
  });

  it("reports YAML syntax errors with the file name", () => {
    expect(() => parseScenarioYaml("seed: [", "fleet.yaml")).toThrow(/^fleet.yaml: /);
  });
});

describe("scenarioTierRules", () => {
  it("gives the agent one anchored rule per model, so its tier label matches the scenario", () => {
    const rules = scenarioTierRules(DEFAULT_SCENARIO);
    const tierOf = (model: string) => rules.find((rule) => new RegExp(rule.model).test(model))?.tier;
    expect(tierOf("llama-2-7b-awq")).toBe("latency");
    expect(tierOf("llama-2-13b-awq")).toBe("batch");
    expect(tierOf("llama-2-7b-awq-v2")).toBeUndefined();
  });
});
