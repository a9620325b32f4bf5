import type { ExpositionSample } from "../../../common/exposition.js";
import { defineProfile, FirstPresent } from "../../collectors/runtimes/profile-reader.js";
import { clampRatio, counterNames, type GaugeField } from "../../collectors/runtimes/runtime-gauges.js";

/**
 * `tgi_request_failure{err}` values that are the server's failure, not a bad request: the queue
 * was full, the stream ended early, the request was dropped or generation failed
 * (text-generation-inference router/src/infer/mod.rs, backends/v3/src/backend.rs). `validation`
 * and `template` (the client's input) count neither as ok nor as failed.
 */
const SERVER_FAILURES: ReadonlySet<string> = new Set(["overloaded", "incomplete", "dropped", "generation"]);

const QUEUE = "tgi_queue_size";
const BATCH = "tgi_batch_current_size";
const TOKENS = "tgi_batch_current_max_tokens";
const BUDGET = "tgi_batch_max_total_tokens";
const SUCCESS = counterNames("tgi_request_success");
const FAILURE = counterNames("tgi_request_failure");
const PROMPT = "tgi_request_input_length_sum";
const COMPLETION = "tgi_request_generated_tokens_sum";

/** The sum of every sample of a name (NaN when one is NaN: the field is then left out). */
interface Total {
  value: number;
}

/**
 * Hugging Face TGI (`tgi_` prefix, no model label: one router serves one model, named by the
 * target's configuration or pod; metrics-exporter-prometheus writes counters without `_total`).
 * Queue depth is `tgi_queue_size`, batch size `tgi_batch_current_size`. KV usage is the running
 * batch's token reservation over the token budget of the KV cache,
 * `tgi_batch_current_max_tokens / tgi_batch_max_total_tokens`, reported only by routers that
 * expose the budget (v3 backend). Finished requests: `tgi_request_success` and the server-side
 * `tgi_request_failure` reasons; tokens from the `_sum` of the `tgi_request_input_length` and
 * `tgi_request_generated_tokens` histograms. TGI has no prefix-cache or preemption counters
 * (text-generation-inference router/src/server.rs).
 */
export const tgiProfile = defineProfile({
  runtime: "tgi",
  families: "tgi",
  prefix: "tgi_",
  names: [QUEUE, BATCH, TOKENS, BUDGET, ...SUCCESS, ...FAILURE, PROMPT, COMPLETION],

  open({ slotOf }) {
    const totals = new Map<string, Total>();
    const failures = new FirstPresent(FAILURE, (): Total & { isCounted: boolean } => ({ value: 0, isCounted: false }));
    const total = (name: string): number | undefined => totals.get(name)?.value;
    const on = (s: ExpositionSample): void => {
      if (FAILURE.includes(s.name)) {
        const failed = failures.of(s.name);
        if (SERVER_FAILURES.has(s.labels["err"] ?? "") && Number.isFinite(s.value)) {
          failed.value += s.value;
          failed.isCounted = true;
        }
        return;
      }
      const found = totals.get(s.name);
      if (found === undefined) totals.set(s.name, { value: s.value });
      else found.value += s.value;
    };

    return {
      add: on,
      finish(rows) {
        let slot: number | undefined;
        // One unnamed model: its row is asked for only when the page gives it a figure.
        const put = (field: GaugeField, value: number | undefined, how: "sum" | "max" = "sum"): void => {
          if (value === undefined || !Number.isFinite(value)) return;
          slot ??= slotOf("");
          if (how === "sum") rows.sum(slot, field, value);
          else rows.max(slot, field, value);
        };
        put("queueDepth", total(QUEUE));
        put("batchSize", total(BATCH));
        const tokens = total(TOKENS);
        const budget = total(BUDGET);
        if (tokens !== undefined && budget !== undefined && budget > 0)
          put("kvCacheUsage", clampRatio(tokens / budget), "max");
        put(
          "requestsOk",
          SUCCESS.map(total).find((value) => value !== undefined),
        );
        const failed = failures.chosen();
        if (failed?.isCounted === true) put("requestsFailed", failed.value);
        put("promptTokens", total(PROMPT));
        put("completionTokens", total(COMPLETION));
      },
    };
  },
});
