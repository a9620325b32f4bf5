import type { ExpositionSample } from "../../../common/exposition.js";
import {
  BoundedJoin,
  defineProfile,
  FirstPresent,
  SlotValues,
  type RowTable,
} from "../../collectors/runtimes/profile-reader.js";
import { clampRatio, counterNames, type GaugeField, type Labels } from "../../collectors/runtimes/runtime-gauges.js";

/**
 * Labels under which SGLang's scheduler processes report the same batch once per rank: every
 * tensor-, pipeline- and expert-parallel rank of one data-parallel group runs the same requests.
 */
const REPLICA_LABELS: ReadonlySet<string> = new Set(["tp_rank", "pp_rank", "moe_ep_rank", "attn_tp_rank"]);

const TOKEN_USAGE = "sglang:token_usage";
const QUEUE = "sglang:num_queue_reqs";
const RUNNING = "sglang:num_running_reqs";
const CACHED = counterNames("sglang:cached_tokens");
const PROMPT = counterNames("sglang:prompt_tokens");
const HIT_RATE = "sglang:cache_hit_rate";
const RETRACTED = counterNames("sglang:num_retracted_requests");
const REQUESTS = counterNames("sglang:num_requests");
const ABORTED = counterNames("sglang:num_aborted_requests");
const GENERATION = counterNames("sglang:generation_tokens");

interface Group {
  readonly slot: number;
  readonly isSpill: boolean;
  value: number | undefined;
}

/**
 * One family summed per row where samples that differ only in the replica labels report the same
 * thing several times: the highest of such replicas counts once, every other label (data-parallel
 * rank, engine type, the model) adds up. Past the join limit a row's new groups add up whole
 * (replicas of those are not deduplicated: only on pages of more groups than the limit).
 */
class ReplicaSums {
  private readonly groups: BoundedJoin<Group>;

  constructor(
    joinLimit: number,
    private readonly slot: (labels: Labels) => number,
  ) {
    this.groups = new BoundedJoin(joinLimit, (slot, isSpill) => ({ slot, isSpill, value: undefined }));
  }

  add(sample: ExpositionSample): void {
    if (!Number.isFinite(sample.value)) return;
    const key = Object.keys(sample.labels)
      .filter((name) => !REPLICA_LABELS.has(name))
      .sort()
      .map((name) => `${name}=${sample.labels[name] ?? ""}`)
      .join("\u0000");
    const group = this.groups.entry(key, () => this.slot(sample.labels));
    group.value =
      group.value === undefined
        ? sample.value
        : group.isSpill
          ? group.value + sample.value
          : Math.max(group.value, sample.value);
  }

  into(rows: RowTable, field: GaugeField): void {
    const perSlot = new SlotValues();
    for (const group of this.groups.all()) if (group.value !== undefined) perSlot.add(group.slot, group.value);
    for (const [slot, value] of perSlot.entries()) rows.sum(slot, field, value);
  }
}

/**
 * SGLang (`sglang:` prefix; sgl-project/sglang python/sglang/srt/metrics/collector.py). Scheduler
 * gauges carry `model_name` plus `tp_rank`, `pp_rank`, `moe_ep_rank` and `engine_type` (and
 * `dp_rank` with data parallelism); tokenizer counters carry `model_name`. Ranks that replicate one
 * batch count once (the highest), data-parallel ranks and engine types add up; KV usage is the
 * highest of all.
 *
 * - KV usage: `sglang:token_usage` (0..1). Queue: `sglang:num_queue_reqs`. Batch: `sglang:num_running_reqs`.
 * - Prefix cache in tokens: `sglang:cached_tokens_total` over `sglang:prompt_tokens_total`; the
 *   `sglang:cache_hit_rate` gauge only where those counters are missing (the scheduler rewrites it
 *   on every prefill and decode report, so it is a last-batch figure).
 * - Preemptions: `sglang:num_retracted_requests_total` (newer releases; the older
 *   `sglang:num_retracted_reqs` gauge counts the last batch only and is not read).
 * - Finished requests: `sglang:num_requests_total` as ok, `sglang:num_aborted_requests_total`
 *   (client or API aborts, tokenizer_manager `abort_request`) as failed.
 * - Tokens: `sglang:prompt_tokens_total`, `sglang:generation_tokens_total`.
 */
export const sglangProfile = defineProfile({
  runtime: "sglang",
  families: "sglang",
  prefix: "sglang:",
  names: [
    TOKEN_USAGE,
    QUEUE,
    RUNNING,
    ...CACHED,
    ...PROMPT,
    HIT_RATE,
    ...RETRACTED,
    ...REQUESTS,
    ...ABORTED,
    ...GENERATION,
  ],

  open({ slotOf, joinLimit }) {
    const slot = (labels: Labels): number => slotOf(labels["model_name"] ?? "");
    const replicaSums = (): ReplicaSums => new ReplicaSums(joinLimit, slot);
    const tokenUsage = new SlotValues();
    const queue = replicaSums();
    const running = replicaSums();
    const hitRate = new SlotValues();
    const cached = new FirstPresent(CACHED, replicaSums);
    const prompt = new FirstPresent(PROMPT, replicaSums);
    const retracted = new FirstPresent(RETRACTED, replicaSums);
    const requests = new FirstPresent(REQUESTS, replicaSums);
    const aborted = new FirstPresent(ABORTED, replicaSums);
    const generation = new FirstPresent(GENERATION, replicaSums);

    const raiseRatio = (target: SlotValues, s: ExpositionSample): void => {
      const ratio = clampRatio(s.value);
      if (Number.isFinite(ratio)) target.raise(slot(s.labels), ratio);
    };
    const on = new Map<string, (s: ExpositionSample) => void>([
      [TOKEN_USAGE, (s) => raiseRatio(tokenUsage, s)],
      [QUEUE, (s) => queue.add(s)],
      [RUNNING, (s) => running.add(s)],
      [HIT_RATE, (s) => raiseRatio(hitRate, s)],
    ]);
    for (const alternatives of [cached, prompt, retracted, requests, aborted, generation]) {
      for (const name of alternatives.names) on.set(name, (s) => alternatives.of(name).add(s));
    }

    return {
      add: (s) => on.get(s.name)?.(s),
      finish(rows) {
        tokenUsage.into(rows, "kvCacheUsage");
        queue.into(rows, "queueDepth");
        running.into(rows, "batchSize");
        const cachedTokens = cached.chosen();
        const promptTokens = prompt.chosen();
        if (cachedTokens !== undefined && promptTokens !== undefined) {
          cachedTokens.into(rows, "prefixCacheHits");
          promptTokens.into(rows, "prefixCacheQueries");
        } else {
          hitRate.into(rows, "prefixCacheHitRatio");
        }
        retracted.chosen()?.into(rows, "preemptions");
        requests.chosen()?.into(rows, "requestsOk");
        aborted.chosen()?.into(rows, "requestsFailed");
        promptTokens?.into(rows, "promptTokens");
        generation.chosen()?.into(rows, "completionTokens");
      },
    };
  },
});
