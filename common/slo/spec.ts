import { z } from "zod";
import { parseDurationMs } from "../config/duration.js";
import { BoundedRegExp, safeRegexSource } from "../config/safe-regex.js";
import { METRICS } from "../conventions.js";
import { longestWindowMs } from "./windows.js";
import { DAY_MS } from "../units.js";

/**
 * The SLO configuration (YAML): model classes, each matched by model name or pod label and carrying
 * a latency SLO, an optional time-to-first-token SLO and an availability SLO; and a GPU-utilization
 * cost objective per pool. Every SLO is a ratio of good to total events counted over the period
 * (https://sre.google/workbook/alerting-on-slos/, "ratio of good events to total events"), so
 * "p95 under 1.2 s" reads "95% of requests finish within 1.2 s".
 */

/** Pod label naming a pod's SLO class explicitly; every default class matches its own name here. */
export const SLO_CLASS_LABEL = "inferwatch.io/slo-class";

/** Class and pool names end up in SLO ids, metric labels and rule names (Sloth's name rule). */
const NAME_PATTERN = /^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/;
const name = z
  .string()
  .regex(
    NAME_PATTERN,
    "expected lower-case letters, digits, '.', '_' or '-', starting and ending with a letter or digit",
  );

/** A ratio in (0, 1), given as a number (`0.95`) or a percentage string (`"95%"`). */
const ratio = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const match = typeof value === "string" ? /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value) : null;
  const parsed = typeof value === "number" ? value : match ? Number(match[1]) / 100 : NaN;
  if (!(parsed > 0 && parsed < 1)) {
    ctx.addIssue({
      code: "custom",
      message: `expected a ratio between 0 and 1 (exclusive) such as 0.95 or "95%", got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return parsed;
});

/** A duration string (`1.2s`, `800ms`) read as seconds; bare numbers are refused as ambiguous. */
const thresholdSeconds = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = typeof value === "string" ? parseDurationMs(value) : undefined;
  if (ms === undefined || !(ms > 0)) {
    ctx.addIssue({
      code: "custom",
      message: `expected a duration with its unit such as 1.2s or 800ms, got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return ms / 1000;
});

/** A duration given as a string (`1d`) or a number of milliseconds, as elsewhere in the configuration. */
const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = typeof value === "number" ? value : parseDurationMs(value);
  if (ms === undefined || !(ms > 0)) {
    ctx.addIssue({
      code: "custom",
      message: `expected a positive duration such as 6h or 30d, got ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return ms;
});

const regexSource = safeRegexSource.min(1);

/** A rule selecting models: a regular expression searched in the model name, or a pod label. */
const matchRuleSchema = z.union([
  z.strictObject({ model: regexSource, ignoreCase: z.boolean().default(true) }),
  z.strictObject({ podLabel: z.strictObject({ key: z.string().min(1), value: z.string() }) }),
]);

const latencyInput = z
  .strictObject({ threshold: thresholdSeconds, objective: ratio.default(0.95) })
  .transform(({ threshold, objective }) => ({ thresholdSeconds: threshold, objective }));
const availabilityInput = z.strictObject({ objective: ratio.default(0.99) });

/** The kinds of event SLO a class carries; the SLO id is `<class>-<kind>`. */
export type SloKind = "latency" | "ttft" | "availability";

const modelClassSchema = z
  .strictObject({
    name,
    match: z.array(matchRuleSchema).min(1),
    /** End-to-end latency: share of requests finishing within the threshold. */
    latency: latencyInput,
    /** Time to first token, optional. */
    ttft: latencyInput.optional(),
    /** Share of requests that did not end in error. */
    availability: availabilityInput.prefault({}),
  })
  .transform(({ name: className, match, latency, ttft, availability }) => ({
    name: className,
    match,
    latency: {
      id: `${className}-latency`,
      className,
      kind: "latency" as const,
      metric: METRICS.llmRequestDuration.name,
      ...latency,
    },
    ...(ttft
      ? {
          ttft: {
            id: `${className}-ttft`,
            className,
            kind: "ttft" as const,
            metric: METRICS.llmTimeToFirstToken.name,
            ...ttft,
          },
        }
      : {}),
    availability: {
      id: `${className}-availability`,
      className,
      kind: "availability" as const,
      metric: METRICS.llmRequests.name,
      ...availability,
    },
  }));

/**
 * Model sizes as they appear in names (`mistral-7b`, `Llama-3.1-8B`, `qwen2.5-14b-awq`): not part of
 * a longer number (`17b`, `1.7b`) nor of a mixture-of-experts size (`8x7b` is not a 7B model).
 * The boundaries are consumed characters or anchors, not look-around, so Prometheus (RE2) reads the
 * pattern as the analyzer does.
 */
const sizeRule = (sizes: string) => ({ model: `(^|[^0-9.x])(${sizes})b([^a-z0-9]|$)` });

/** The platform's requirements: 95% of requests under 1.2 s (7B), 2 s (13B), 4 s (70B); 99% without error. */
const DEFAULT_CLASSES = [
  {
    name: "7b",
    match: [{ podLabel: { key: SLO_CLASS_LABEL, value: "7b" } }, sizeRule("7|8")],
    latency: { threshold: "1.2s", objective: 0.95 },
  },
  {
    name: "13b",
    match: [{ podLabel: { key: SLO_CLASS_LABEL, value: "13b" } }, sizeRule("13|14")],
    latency: { threshold: "2s", objective: 0.95 },
  },
  {
    name: "70b",
    match: [{ podLabel: { key: SLO_CLASS_LABEL, value: "70b" } }, sizeRule("70|72")],
    latency: { threshold: "4s", objective: 0.95 },
  },
];

const poolOverride = z
  .strictObject({ minRatio: ratio.optional(), window: duration.optional() })
  .transform(({ minRatio, window }) => ({
    ...(minRatio === undefined ? {} : { minRatio }),
    ...(window === undefined ? {} : { windowMs: window }),
  }));

/** The cost objective: each pool's GPUs busy at least `minRatio` of the time over `window` (ticket only). */
const gpuUtilizationSchema = z
  .strictObject({
    minRatio: ratio.default(0.6),
    window: duration.prefault("1d"),
    /** Per-pool overrides by pool name; pools not listed get the values above. */
    pools: z.record(name, poolOverride).default({}),
  })
  .transform(({ minRatio, window, pools }) => ({ minRatio, windowMs: window, pools }));

/** The whole SLO configuration. `classes`, when given, replaces the defaults rather than merging with them. */
export const sloConfigSchema = z
  .strictObject({
    period: duration.prefault("30d"),
    classes: z.array(modelClassSchema).min(1).prefault(DEFAULT_CLASSES),
    gpuUtilization: gpuUtilizationSchema.prefault({}),
  })
  .superRefine((config, ctx) => {
    if (config.period < longestWindowMs()) {
      ctx.addIssue({
        code: "custom",
        path: ["period"],
        message: `must be at least the longest burn-rate window (${longestWindowMs() / DAY_MS}d)`,
      });
    }
    const seen = new Set<string>();
    config.classes.forEach((modelClass, index) => {
      if (seen.has(modelClass.name))
        ctx.addIssue({
          code: "custom",
          path: ["classes", index, "name"],
          message: `duplicate class ${modelClass.name}`,
        });
      seen.add(modelClass.name);
    });
  })
  .transform(({ period, ...rest }) => ({ periodMs: period, ...rest }));

export type SloConfig = z.output<typeof sloConfigSchema>;
/** The YAML shape, before defaults. */
export type SloConfigInput = z.input<typeof sloConfigSchema>;
export type ModelClass = SloConfig["classes"][number];
export type MatchRule = ModelClass["match"][number];
export type LatencySlo = ModelClass["latency"];
export type TtftSlo = NonNullable<ModelClass["ttft"]>;
export type AvailabilitySlo = ModelClass["availability"];
/** One event SLO of a class; `id` is stable (`7b-latency`, `7b-ttft`, `7b-availability`). */
export type Slo = LatencySlo | TtftSlo | AvailabilitySlo;

/** The configuration an empty file gives. */
export const DEFAULT_SLO_CONFIG: SloConfig = sloConfigSchema.parse({});

/** Every event SLO of `config`, class by class: latency, then TTFT where set, then availability. */
export function listSlos(config: Pick<SloConfig, "classes">): readonly Slo[] {
  return config.classes.flatMap((modelClass) => [
    modelClass.latency,
    ...(modelClass.ttft ? [modelClass.ttft] : []),
    modelClass.availability,
  ]);
}

const compiled = new WeakMap<object, BoundedRegExp>();

function ruleMatches(rule: MatchRule, model: string, podLabels: Readonly<Record<string, string>>): boolean {
  if ("podLabel" in rule) return podLabels[rule.podLabel.key] === rule.podLabel.value;
  let regex = compiled.get(rule);
  if (!regex) {
    regex = new BoundedRegExp(rule.model, rule.ignoreCase ? "i" : "");
    compiled.set(rule, regex);
  }
  return regex.test(model);
}

/**
 * The first class, in configuration order, with a rule matching the model name (regular
 * expression search, case-insensitive unless the rule says otherwise) or one of the pod's labels
 * (exact value). Undefined when no class matches: such a model has no SLO.
 */
export function classOf(
  config: Pick<SloConfig, "classes">,
  model: string,
  podLabels: Readonly<Record<string, string>> = {},
): ModelClass | undefined {
  return config.classes.find((modelClass) => modelClass.match.some((rule) => ruleMatches(rule, model, podLabels)));
}

/** A pool's GPU-utilization objective: a cost objective, so it only ever opens a ticket. */
export interface GpuUtilizationObjective {
  /** `<pool>-gpu-utilization`. */
  readonly id: string;
  readonly pool: string;
  /** Mean utilization (0..1) the pool's GPUs should sustain over the window. */
  readonly minRatio: number;
  readonly windowMs: number;
  readonly severity: "ticket";
}

/** The utilization objective of `pool`: its override where configured, else the configured default. */
export function gpuUtilizationObjective(
  config: Pick<SloConfig, "gpuUtilization">,
  pool: string,
): GpuUtilizationObjective {
  const { minRatio, windowMs, pools } = config.gpuUtilization;
  const override = Object.hasOwn(pools, pool) ? pools[pool] : undefined;
  return {
    id: `${pool}-gpu-utilization`,
    pool,
    minRatio: override?.minRatio ?? minRatio,
    windowMs: override?.windowMs ?? windowMs,
    severity: "ticket",
  };
}
