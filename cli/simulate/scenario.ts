/**
 * The simulated fleet's scenario file (YAML): GPU nodes in pools, models with their traffic and
 * latency shape, the replicas placing models on GPUs, a day curve and an incident. Everything the
 * simulator produces is a deterministic function of this file (its `seed` included) and of time.
 *
 * One zod schema validates a file at the edge, cross-references included (a replica's node, GPUs
 * and model must exist, a tensor-parallel replica needs NVLink, memory must fit); code inside
 * trusts the inferred types.
 */
import { createRequire } from "node:module";
import type * as Yaml from "yaml";
import { z } from "zod";
import { parseDurationMs } from "../../common/config/duration.js";
import { errorMessage } from "../../common/errors.js";
import { GIB } from "../../common/units.js";

/**
 * `yaml` is required on first use, not imported: this module is loaded by every inferwatch command
 * (the long-running agent included, as cli/main.ts imports every command's modules), but only
 * reading a scenario file needs the parser.
 */
const requireModule = createRequire(import.meta.url);

/**
 * The GPU types a scenario can use. Names are NVML's product names; memory is nominal GiB (as the
 * fleet fixtures use); power is the board limit (TDP) and a typical idle draw, from NVIDIA's data
 * sheets (H100 SXM5 700 W, A100 SXM4 400 W, L40S 350 W, L4 72 W); clocks are the boost SM clock
 * and the memory clock NVML reports; NVLink links per GPU (18 on H100 SXM, 12 on A100 SXM).
 */
export const GPU_TYPES = {
  h100: {
    name: "NVIDIA H100 80GB HBM3",
    memoryBytes: 80 * GIB,
    tdpWatts: 700,
    idleWatts: 70,
    smClockMhz: 1980,
    memoryClockMhz: 2619,
    nvlinks: 18,
  },
  a100: {
    name: "NVIDIA A100-SXM4-40GB",
    memoryBytes: 40 * GIB,
    tdpWatts: 400,
    idleWatts: 55,
    smClockMhz: 1410,
    memoryClockMhz: 1215,
    nvlinks: 12,
  },
  l40s: {
    name: "NVIDIA L40S",
    memoryBytes: 48 * GIB,
    tdpWatts: 350,
    idleWatts: 35,
    smClockMhz: 2520,
    memoryClockMhz: 9001,
    nvlinks: 0,
  },
  l4: {
    name: "NVIDIA L4",
    memoryBytes: 24 * GIB,
    tdpWatts: 72,
    idleWatts: 16,
    smClockMhz: 2040,
    memoryClockMhz: 6251,
    nvlinks: 0,
  },
} as const;
export type GpuTypeName = keyof typeof GPU_TYPES;
export type GpuTypeSpec = (typeof GPU_TYPES)[GpuTypeName];

const nonEmpty = z.string().min(1);
const positive = z.number().positive();

/** A duration (`3m`, `2h`, or milliseconds), zero allowed. */
const duration = (defaultValue: string) =>
  z
    .union([z.number(), z.string()])
    .default(defaultValue)
    .transform((value, ctx) => {
      const ms = typeof value === "number" ? value : parseDurationMs(value);
      if (ms === undefined || !(ms >= 0)) {
        ctx.addIssue({
          code: "custom",
          message: `expected a duration such as 30s, 3m or 2h, got ${JSON.stringify(value)}`,
        });
        return z.NEVER;
      }
      return ms;
    });

const nodeSchema = z.strictObject({
  name: nonEmpty,
  pool: nonEmpty.describe("Node pool, e.g. `latency` or `batch`."),
  gpuType: z.enum(Object.keys(GPU_TYPES) as [GpuTypeName, ...GpuTypeName[]]),
  gpus: z.number().int().min(1).max(16),
  labels: z.record(z.string(), z.string()).default({}),
});

/** Token counts: a log-normal with this mean and log-space sigma, capped at `max`. */
const tokensSchema = z.strictObject({
  mean: positive,
  sigma: z.number().min(0).max(3),
  max: z.number().int().positive(),
});

const latencySchema = z.strictObject({
  promptTokens: tokensSchema,
  completionTokens: tokensSchema,
  /** Prefill time per prompt token, seconds. */
  prefillSecondsPerToken: positive,
  /** Time per output token at no load, seconds; it grows by 30 % at full load (larger batches). */
  timePerOutputTokenSeconds: positive,
  /** Mean queue wait at 50 % load, seconds; it scales as ρ/(1−ρ) with the replica's load ρ. */
  queueSeconds: z.number().nonnegative(),
});

const modelSchema = z.strictObject({
  name: nonEmpty,
  namespace: nonEmpty.default("inference"),
  /** Serving tier, as the agent's tier rules will name it (see scenarioTierRules). */
  tier: nonEmpty.default("default"),
  tensorParallel: z.number().int().min(1).max(8).default(1),
  /** Device memory one replica holds on each of its GPUs (weights + KV cache), GiB. */
  memoryPerGpuGiB: positive,
  /** Requests per second over all replicas when the day curve is at 1; 0 for an idle model. */
  peakRequestsPerSecond: z.number().nonnegative(),
  /** Requests per second at which one replica is saturated (its load ρ = rate ÷ capacity). */
  replicaCapacityRps: positive,
  /** Share of requests that fail (aborted). */
  errorRatio: z.number().min(0).max(1).default(0.001),
  latency: latencySchema,
});

const replicaSchema = z.strictObject({
  model: nonEmpty,
  node: nonEmpty,
  /** NVML indices of the GPUs on `node`, one per tensor-parallel rank. */
  gpus: z.array(z.number().int().nonnegative()).min(1),
  /** Pod name; default `<model>-<template hash>-<suffix>` derived from the seed. */
  pod: nonEmpty.optional(),
});

const incidentSchema = z.strictObject({
  model: nonEmpty,
  /** First start, after the simulation's origin (when it started). */
  startAfter: duration("3m"),
  duration: duration("10m"),
  /** Period of repetition (also backwards, so a written history holds earlier ones); `once` for one. */
  every: z
    .union([z.literal("once"), z.number(), z.string()])
    .default("2h")
    .transform((value, ctx) => {
      if (value === "once") return null;
      const ms = typeof value === "number" ? value : parseDurationMs(value);
      if (ms === undefined || !(ms > 0)) {
        ctx.addIssue({
          code: "custom",
          message: `expected a duration such as 2h, or once, got ${JSON.stringify(value)}`,
        });
        return z.NEVER;
      }
      return ms;
    }),
  /** Share of the model's requests during the incident that are pushed past `thresholdSeconds`. */
  slowShare: z.number().min(0).max(1).default(0.3),
  /** The latency SLO threshold the incident is aimed at, seconds. */
  thresholdSeconds: positive,
});

const DEFAULT_DAY_CURVE = [
  0.35, 0.28, 0.22, 0.2, 0.2, 0.24, 0.35, 0.5, 0.7, 0.85, 0.93, 0.97, 0.98, 0.99, 1, 0.99, 0.95, 0.88, 0.78, 0.68, 0.6,
  0.52, 0.45, 0.4,
];

const scenarioObjectSchema = z.strictObject({
  name: nonEmpty.default("scenario"),
  seed: z.number().int().nonnegative(),
  /** Local time of the day curve, hours east of UTC. */
  utcOffsetHours: z.number().min(-12).max(14).default(0),
  /** Traffic multiplier (0..1) at each local hour 0..23, linear in between; the peak is 1 by convention. */
  dayCurve: z.array(z.number().min(0).max(1)).length(24).default(DEFAULT_DAY_CURVE),
  nodes: z.array(nodeSchema).min(1),
  models: z.array(modelSchema).min(1),
  replicas: z.array(replicaSchema),
  incident: incidentSchema.nullable().default(null),
});

type ScenarioObject = z.infer<typeof scenarioObjectSchema>;

function checkReferences(s: ScenarioObject, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string): void => ctx.addIssue({ code: "custom", path, message });
  const nodes = new Map(s.nodes.map((node) => [node.name, node]));
  const models = new Map(s.models.map((model) => [model.name, model]));
  if (nodes.size !== s.nodes.length) issue(["nodes"], "node names must be unique");
  if (models.size !== s.models.length) issue(["models"], "model names must be unique");
  const usedGiB = new Map<string, number>();
  const replicasOf = new Map<string, number>();
  s.replicas.forEach((replica, r) => {
    const node = nodes.get(replica.node);
    const model = models.get(replica.model);
    if (!node) issue(["replicas", r, "node"], `unknown node ${replica.node}`);
    if (!model) issue(["replicas", r, "model"], `unknown model ${replica.model}`);
    if (!node || !model) return;
    replicasOf.set(model.name, (replicasOf.get(model.name) ?? 0) + 1);
    if (replica.gpus.length !== model.tensorParallel)
      issue(
        ["replicas", r, "gpus"],
        `holds ${replica.gpus.length} GPUs but ${model.name} is tensor-parallel ${model.tensorParallel}`,
      );
    if (new Set(replica.gpus).size !== replica.gpus.length) issue(["replicas", r, "gpus"], "a GPU is listed twice");
    if (replica.gpus.length > 1 && GPU_TYPES[node.gpuType].nvlinks === 0)
      issue(
        ["replicas", r, "gpus"],
        `a tensor-parallel replica needs NVLink; ${node.gpuType} on ${node.name} has none`,
      );
    replica.gpus.forEach((index, g) => {
      if (index >= node.gpus) issue(["replicas", r, "gpus", g], `${node.name} has ${node.gpus} GPUs`);
      const key = `${node.name}/${index}`;
      const used = (usedGiB.get(key) ?? 0) + model.memoryPerGpuGiB;
      usedGiB.set(key, used);
      if (used * GIB > GPU_TYPES[node.gpuType].memoryBytes)
        issue(["replicas", r, "gpus", g], `GPU ${index} of ${node.name} is out of memory (${used} GiB)`);
    });
  });
  s.models.forEach((model, m) => {
    const count = replicasOf.get(model.name) ?? 0;
    if (model.peakRequestsPerSecond > 0 && count === 0)
      issue(["models", m, "peakRequestsPerSecond"], `${model.name} has traffic but no replica`);
    if (count > 0 && model.peakRequestsPerSecond / count >= model.replicaCapacityRps) {
      issue(
        ["models", m, "peakRequestsPerSecond"],
        `${model.name} replicas would be saturated at peak (${model.peakRequestsPerSecond} req/s over ${count} replicas of ${model.replicaCapacityRps} req/s)`,
      );
    }
  });
  const pods = s.replicas.flatMap((replica) => (replica.pod === undefined ? [] : [replica.pod]));
  if (new Set(pods).size !== pods.length) issue(["replicas"], "pod names must be unique");
  if (s.incident && !models.has(s.incident.model)) issue(["incident", "model"], `unknown model ${s.incident.model}`);
}

/** The scenario schema (shape, ranges and cross-references). */
export const scenarioSchema = scenarioObjectSchema.superRefine(checkReferences);

export type Scenario = z.infer<typeof scenarioSchema>;
export type ScenarioInput = z.input<typeof scenarioSchema>;
export type ScenarioNode = Scenario["nodes"][number];
export type ScenarioModel = Scenario["models"][number];
export type ScenarioReplica = Scenario["replicas"][number];
export type ScenarioIncident = NonNullable<Scenario["incident"]>;

/** Validates a parsed scenario. Throws one Error listing every problem as `path: message`. */
export function parseScenario(input: unknown, source = "scenario"): Scenario {
  const result = scenarioSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.length === 0 ? "(top level)" : issue.path.map(String).join(".")}: ${issue.message}`,
  );
  throw new Error(`${source} is invalid:\n  ${problems.join("\n  ")}`, { cause: result.error });
}

/** Parses and validates a scenario file's YAML text. */
export function parseScenarioYaml(text: string, source = "scenario file"): Scenario {
  let parsed: unknown;
  try {
    parsed = (requireModule("yaml") as typeof Yaml).parse(text);
  } catch (err) {
    throw new Error(`${source}: ${errorMessage(err)}`, { cause: err });
  }
  return parseScenario(parsed, source);
}

/**
 * Tier rules for the agent's `spans.tiers`, so that the agent's `tier` label says what the
 * scenario's model says (the history writer uses the scenario's tiers directly).
 */
export function scenarioTierRules(scenario: Scenario): { model: string; tier: string }[] {
  return scenario.models.map((model) => ({
    model: `^${model.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`,
    tier: model.tier,
  }));
}

const tokens = (mean: number, sigma: number, max: number) => ({ mean, sigma, max });

/**
 * The default fleet, small enough for a 2-core laptop: 4 nodes, 20 GPUs, two pools. A 7B and a
 * 13B (4-bit AWQ) on one GPU each with several replicas, a 70B (4-bit) over GPUs 0–3 of the H100
 * node, an idle Mistral 7B that gets no traffic, one time-sliced H100 shared by two replicas, a
 * free GPU per node and small replicas on big GPUs (fragmentation). The 13B slows down for 10
 * minutes every 2 hours, first 3 minutes after start, with 30 % of its requests over its 2 s SLO.
 */
export const DEFAULT_SCENARIO_INPUT = {
  name: "default",
  seed: 20240601,
  nodes: [
    { name: "gpu-h100-0", pool: "latency", gpuType: "h100", gpus: 8 },
    { name: "gpu-a100-0", pool: "latency", gpuType: "a100", gpus: 4 },
    { name: "gpu-l40s-0", pool: "batch", gpuType: "l40s", gpus: 4 },
    { name: "gpu-l4-0", pool: "batch", gpuType: "l4", gpus: 4 },
  ],
  models: [
    {
      name: "llama-2-7b-awq",
      tier: "latency",
      memoryPerGpuGiB: 8,
      peakRequestsPerSecond: 8,
      replicaCapacityRps: 2.5,
      latency: {
        promptTokens: tokens(512, 0.7, 4096),
        completionTokens: tokens(32, 0.5, 512),
        prefillSecondsPerToken: 0.0001,
        timePerOutputTokenSeconds: 0.012,
        queueSeconds: 0.02,
      },
    },
    {
      name: "llama-2-13b-awq",
      tier: "batch",
      memoryPerGpuGiB: 14,
      peakRequestsPerSecond: 4,
      replicaCapacityRps: 1.5,
      latency: {
        promptTokens: tokens(768, 0.7, 4096),
        completionTokens: tokens(36, 0.5, 512),
        prefillSecondsPerToken: 0.00018,
        timePerOutputTokenSeconds: 0.018,
        queueSeconds: 0.04,
      },
    },
    {
      name: "llama-2-70b-awq",
      tier: "latency",
      tensorParallel: 4,
      memoryPerGpuGiB: 20,
      peakRequestsPerSecond: 1.2,
      replicaCapacityRps: 2,
      latency: {
        promptTokens: tokens(1024, 0.7, 4096),
        completionTokens: tokens(40, 0.5, 512),
        prefillSecondsPerToken: 0.0003,
        timePerOutputTokenSeconds: 0.03,
        queueSeconds: 0.08,
      },
    },
    {
      name: "mistral-7b-awq",
      tier: "batch",
      memoryPerGpuGiB: 8,
      peakRequestsPerSecond: 0,
      replicaCapacityRps: 2.5,
      latency: {
        promptTokens: tokens(512, 0.7, 4096),
        completionTokens: tokens(32, 0.5, 512),
        prefillSecondsPerToken: 0.0001,
        timePerOutputTokenSeconds: 0.012,
        queueSeconds: 0.02,
      },
    },
  ],
  replicas: [
    { model: "llama-2-70b-awq", node: "gpu-h100-0", gpus: [0, 1, 2, 3] },
    { model: "llama-2-7b-awq", node: "gpu-h100-0", gpus: [4] },
    { model: "llama-2-7b-awq", node: "gpu-h100-0", gpus: [5] },
    { model: "llama-2-13b-awq", node: "gpu-h100-0", gpus: [5] },
    { model: "llama-2-13b-awq", node: "gpu-h100-0", gpus: [6] },
    { model: "llama-2-7b-awq", node: "gpu-a100-0", gpus: [0] },
    { model: "llama-2-13b-awq", node: "gpu-a100-0", gpus: [1] },
    { model: "mistral-7b-awq", node: "gpu-a100-0", gpus: [2] },
    { model: "llama-2-13b-awq", node: "gpu-l40s-0", gpus: [0] },
    { model: "llama-2-7b-awq", node: "gpu-l40s-0", gpus: [1] },
    { model: "llama-2-7b-awq", node: "gpu-l40s-0", gpus: [2] },
    { model: "llama-2-7b-awq", node: "gpu-l4-0", gpus: [0] },
    { model: "llama-2-13b-awq", node: "gpu-l4-0", gpus: [1] },
    { model: "mistral-7b-awq", node: "gpu-l4-0", gpus: [2] },
  ],
  incident: {
    model: "llama-2-13b-awq",
    startAfter: "3m",
    duration: "10m",
    every: "2h",
    slowShare: 0.3,
    thresholdSeconds: 2,
  },
} satisfies ScenarioInput;

/** The default scenario, validated. */
export const DEFAULT_SCENARIO: Scenario = parseScenario(DEFAULT_SCENARIO_INPUT, "default scenario");
