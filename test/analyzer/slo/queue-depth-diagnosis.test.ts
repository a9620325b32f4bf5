/**
 * The runtimes' queue depth joins the dominant-phase diagnosis of a latency SLO: the evaluation
 * reads `inferwatch_llm_queue_depth` of the class's models and reports it beside the phase.
 */
import { describe, expect, it } from "vitest";
import { evaluateSlos } from "../../../analyzer/slo/evaluate.js";
import { DEFAULT_SLO_CONFIG } from "../../../common/slo/spec.js";
import { MemoryStore } from "../../../analyzer/stores/memory-store.js";
import { METRICS } from "../../../common/conventions.js";

const AT = 1_700_000_000_000;
const MODEL = "llama-3-8b";
const BOUNDS = ["0.5", "1.2", "2", "+Inf"];

/** An hour of 100 requests of which 40 miss 1.2 s, their time mostly queued. */
function storeWithSlowQueue(): MemoryStore {
  const store = new MemoryStore();
  const base = { model: MODEL, runtime: "vllm", namespace: "serving", node: "n", tier: "default" };
  const histogram = (name: string, pod: string, counts: readonly number[]) => {
    BOUNDS.forEach((le, i) => {
      store.ingest(`${name}_bucket`, { ...base, pod, le }, 0, AT - 3_000_000);
      store.ingest(`${name}_bucket`, { ...base, pod, le }, counts[i] as number, AT);
    });
    store.ingest(`${name}_count`, { ...base, pod }, 0, AT - 3_000_000);
    store.ingest(`${name}_count`, { ...base, pod }, counts.at(-1) as number, AT);
  };
  histogram(METRICS.llmRequestDuration.name, "p0", [10, 60, 90, 100]);
  histogram(METRICS.llmQueueDuration.name, "p0", [60, 60, 70, 100]);
  histogram(METRICS.llmPrefillDuration.name, "p0", [100, 100, 100, 100]);
  histogram(METRICS.llmDecodeDuration.name, "p0", [95, 100, 100, 100]);
  return store;
}

function latencyDiagnosis(evaluation: Awaited<ReturnType<typeof evaluateSlos>>) {
  const status = evaluation.slos.find((slo) => slo.kind === "latency" && slo.models.includes(MODEL));
  expect(status).toBeDefined();
  return status?.dominantPhase;
}

describe("queue depth in the dominant-phase diagnosis", () => {
  it("reports the mean queue depth of the model's replicas beside a queue-bound diagnosis, confirming it", async () => {
    const store = storeWithSlowQueue();
    const labels = { model: MODEL, runtime: "vllm", namespace: "serving", node: "n", tier: "default" };
    store.ingest(METRICS.llmQueueDepth.name, { ...labels, pod: "p0" }, 9, AT - 1_000);
    store.ingest(METRICS.llmQueueDepth.name, { ...labels, pod: "p1" }, 3, AT - 1_000);
    store.ingest(METRICS.llmQueueDepth.name, { ...labels, model: "other-13b", pod: "q0" }, 100, AT - 1_000);
    const diagnosis = latencyDiagnosis(await evaluateSlos(store, DEFAULT_SLO_CONFIG, AT));
    expect(diagnosis).toMatchObject({ state: "diagnosed", phase: "queue", queueDepth: 6, confidence: "high" });
  });

  it("marks a queue diagnosis low-confidence when the runtimes' queues are empty", async () => {
    const store = storeWithSlowQueue();
    store.ingest(
      METRICS.llmQueueDepth.name,
      { model: MODEL, runtime: "vllm", namespace: "serving", pod: "p0", node: "n", tier: "default" },
      0,
      AT - 1_000,
    );
    expect(latencyDiagnosis(await evaluateSlos(store, DEFAULT_SLO_CONFIG, AT))).toMatchObject({
      phase: "queue",
      queueDepth: 0,
      confidence: "low",
    });
  });

  it("reports no queue depth when no runtime of the model is scraped", async () => {
    const diagnosis = latencyDiagnosis(await evaluateSlos(storeWithSlowQueue(), DEFAULT_SLO_CONFIG, AT));
    expect(diagnosis).toMatchObject({ state: "diagnosed", phase: "queue", queueDepth: null });
  });
});
