import { clampRatio, firstPresent, ModelTable, type RuntimeGaugeProfile, type SampleIndex } from "../runtime-gauges.js";

/**
 * Hugging Face TGI (`tgi_` prefix, no model label: one router serves one model, named by the
 * target's configuration or pod). Queue depth is `tgi_queue_size`, batch size
 * `tgi_batch_current_size`. KV usage is the running batch's token reservation over the token
 * budget of the KV cache, `tgi_batch_current_max_tokens / tgi_batch_max_total_tokens`, reported
 * only by routers that expose the budget (v3 backend). TGI has no prefix-cache or preemption counters.
 * Source: huggingface/text-generation-inference `docs/source/reference/metrics.md` and `router/src/server.rs`.
 */
export const tgiProfile: RuntimeGaugeProfile = {
  runtime: "tgi",

  detects(page: SampleIndex): boolean {
    for (const name of page.keys()) if (name.startsWith("tgi_")) return true;
    return false;
  },

  read(page: SampleIndex) {
    const table = new ModelTable();
    const single = (name: string): number | undefined => {
      const samples = firstPresent(page, [name]);
      return samples.length === 0 ? undefined : samples.reduce((sum, s) => sum + s.value, 0);
    };
    const queue = single("tgi_queue_size");
    const batch = single("tgi_batch_current_size");
    const tokens = single("tgi_batch_current_max_tokens");
    const budget = single("tgi_batch_max_total_tokens");
    if (queue !== undefined) table.sum("", "queueDepth", queue);
    if (batch !== undefined) table.sum("", "batchSize", batch);
    if (tokens !== undefined && budget !== undefined && budget > 0) table.max("", "kvCacheUsage", clampRatio(tokens / budget));
    return table.list();
  },
};
