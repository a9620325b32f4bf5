/**
 * Idle-eviction settings (`analyzer.recommend.idleEviction`): time-to-live by tier and model, warm
 * minimum, hold-back on recurring traffic. The recommendations that read them are
 * analyzer/recommend/idle-eviction.ts; the schema lives here, beside the configuration that owns it,
 * so common/ imports nothing from analyzer/.
 */
import { z } from "zod";
import { durationMs, parseDurationMs } from "./duration.js";

/** A duration without a default (`45m` or milliseconds), for overrides that may be absent. */
const optionalDuration = z
  .union([z.number(), z.string()])
  .transform((value, ctx) => {
    const ms = typeof value === "number" ? value : parseDurationMs(value);
    if (ms === undefined || !(ms > 0)) {
      ctx.addIssue({
        code: "custom",
        message: `expected a positive duration such as 45m or 2h, got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    return ms;
  })
  .optional();

/**
 * Defaults: serverless platforms keep a worker 10–20 min after its last request (AWS Lambda ~10 min,
 * Azure Functions ~20 min; Shahrad et al., "Serverless in the Wild", USENIX ATC 2020) and Fireworks
 * scales a deployment down after 10 min and to zero after 1 h (docs.fireworks.ai, autoscaling).
 * The batch tier takes the short end (10 min); the latency tier, where a cold start costs 34–84 s
 * of loading (ServerlessLLM, OSDI 2024), takes 30 min, between Azure's 20 min and Fireworks' hour. One warm replica per model is the
 * de-facto standard Aegaeon's authors describe ("reserve at least one inference instance per model").
 */
export const DEFAULT_TIER_TTLS = { latency: 30 * 60_000, batch: 10 * 60_000 } as const;

/** A time-to-live: a minute to 24 days (the longest duration any setting takes: common/config/duration.ts). */
const IDLE_TTL_BOUNDS = { min: "1m", max: "24d" } as const;

/** Idle-eviction settings; every field has a default, so `{}` is a valid config. */
export const idleEvictionConfigSchema = z.strictObject({
  /** Time-to-live after the last request by tier; given tiers are merged over DEFAULT_TIER_TTLS. */
  tierTtl: z
    .record(z.string().min(1), durationMs("30m", IDLE_TTL_BOUNDS))
    .default({})
    .transform((given): Record<string, number> => ({ ...DEFAULT_TIER_TTLS, ...given })),
  /** Time-to-live of a tier not named in `tierTtl` (the snapshot's `default` tier among them). */
  defaultTtl: durationMs("30m", IDLE_TTL_BOUNDS),
  /** Replicas of each model kept warm even when idle; pinned replicas count toward it. */
  minWarmReplicas: z.number().int().nonnegative().default(1),
  /** Per-model overrides of the time-to-live and of the warm minimum. */
  models: z
    .record(
      z.string().min(1),
      z.strictObject({ ttl: optionalDuration, minWarmReplicas: z.number().int().nonnegative().optional() }),
    )
    .default({}),
  /**
   * Hold an eviction back when, on at least `minDaysWithTraffic` of the last `lookbackDays` days,
   * the model had requests in the same time-of-day window [now, now + TTL). 3 of 7 catches
   * weekday-only traffic (5 of 7) and anything recurring most weeks; keeping a replica one more TTL
   * costs less than a cold start.
   */
  holdBack: z
    .strictObject({
      lookbackDays: z.number().int().positive().default(7),
      minDaysWithTraffic: z.number().int().positive().default(3),
    })
    .refine((h) => h.minDaysWithTraffic <= h.lookbackDays, "minDaysWithTraffic must not exceed lookbackDays")
    .prefault({}),
  /** A LoRA adapter unused this many days is a consolidation or archive candidate. */
  adapterUnusedDays: z.number().positive().default(7),
  /** Weights not loaded this many days are a cold-storage candidate. */
  weightsNotLoadedDays: z.number().positive().default(30),
});
export type IdleEvictionConfig = z.output<typeof idleEvictionConfigSchema>;
export type IdleEvictionConfigInput = z.input<typeof idleEvictionConfigSchema>;
