/**
 * Runtime /metrics pages for the runtime-page benchmark: a hostile one (any number of
 * `model_name` values), and the two largest pages real deployments write, shaped as the runtimes'
 * own source writes them (names, labels, buckets; values invented):
 *
 * - vLLM V1 with many data-parallel engines: vllm-project/vllm
 *   `vllm/v1/metrics/loggers.py@005a810bc40faa25b8870fbc8559c3462581eee3` (`PrometheusStatLogger`:
 *   every family per `model_name` and `engine`, the histograms' buckets, `build_1_2_5_buckets` up to
 *   `max_model_len`); prometheus_client writes a counter as `_total` and `_created`, a histogram's
 *   `_bucket`s, `_count`, `_sum` and `_created`.
 * - Triton with many models on several GPUs: triton-inference-server/core
 *   `src/metrics.cc@aa7283d263c932933106d63e20a6bf3b9ef54d1d` (the per-model counter families),
 *   with `nv_inference_request_failure{reason}` and `nv_inference_pending_request_count` as in
 *   test/fixtures/runtimes/triton-tensorrt-llm.prom (core@73aad7c3); labels `model`, `version`, and
 *   `gpu_uuid` for an instance on a GPU.
 */

/** A vLLM page listing `models` model_name values in two gauges (what any pod with a metrics-port annotation could serve). */
export function hostileVllmPage(models: number): string {
  const lines: string[] = ["# TYPE vllm:num_requests_running gauge"];
  for (let i = 0; i < models; i++) lines.push(`vllm:num_requests_running{engine="0",model_name="model-${i}"} 1.0`);
  lines.push("# TYPE vllm:kv_cache_usage_perc gauge");
  for (let i = 0; i < models; i++) lines.push(`vllm:kv_cache_usage_perc{engine="0",model_name="model-${i}"} 0.5`);
  return `${lines.join("\n")}\n`;
}

/** `build_1_2_5_buckets(max)`: 1, 2, 5, 10, 20, 50, … up to `max`. */
function oneTwoFive(max: number): number[] {
  const out: number[] = [];
  for (let scale = 1; ; scale *= 10) {
    for (const mantissa of [1, 2, 5]) {
      if (mantissa * scale > max) return out;
      out.push(mantissa * scale);
    }
  }
}

/** How prometheus_client writes a bucket bound: Go's float format, `1.0` for integers. */
const bound = (value: number): string => (Number.isInteger(value) ? value.toFixed(1) : String(value));

const REQUEST_LATENCY = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];

/** vLLM V1's histogram families and their buckets (loggers.py@005a810b), for a model of `maxModelLen` tokens. */
function vllmHistograms(maxModelLen: number): readonly (readonly [string, readonly number[]])[] {
  const tokens = oneTwoFive(maxModelLen);
  return [
    ["vllm:request_prompt_tokens", tokens],
    ["vllm:request_generation_tokens", tokens],
    ["vllm:iteration_tokens_total", [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]],
    ["vllm:request_max_num_generation_tokens", tokens],
    ["vllm:request_params_n", [1, 2, 5, 10, 20]],
    ["vllm:request_params_max_tokens", tokens],
    [
      "vllm:time_to_first_token_seconds",
      [
        0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640,
        2560,
      ],
    ],
    [
      "vllm:time_per_output_token_seconds",
      [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80],
    ],
    ["vllm:time_per_prefill_token_request_seconds", [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1]],
    ["vllm:e2e_request_latency_seconds", REQUEST_LATENCY],
    ["vllm:request_queue_time_seconds", REQUEST_LATENCY],
    ["vllm:request_inference_time_seconds", REQUEST_LATENCY],
    ["vllm:request_prefill_time_seconds", REQUEST_LATENCY],
    ["vllm:request_decode_time_seconds", REQUEST_LATENCY],
  ];
}

/** A vLLM V1 server of one served model with `engines` data-parallel engines (a wide expert-parallel deployment), max_model_len 131072. */
export function vllmDataParallelPage(engines: number, model = "deepseek-ai/DeepSeek-V3"): string {
  const lines: string[] = [];
  const created = 1.7e9;
  const perEngine = (family: string, type: string, write: (labels: string, engine: number) => void): void => {
    lines.push(`# HELP ${family} ${family.slice(5).replaceAll("_", " ")}.`, `# TYPE ${family} ${type}`);
    for (let engine = 0; engine < engines; engine++) write(`model_name="${model}",engine="${engine}"`, engine);
  };
  for (const gauge of [
    "vllm:num_requests_running",
    "vllm:num_requests_waiting",
    "vllm:gpu_cache_usage_perc",
    "vllm:kv_cache_usage_perc",
  ]) {
    perEngine(gauge, "gauge", (labels, engine) => lines.push(`${gauge}{${labels}} ${((engine % 7) / 10).toFixed(1)}`));
  }
  for (const counter of [
    "vllm:gpu_prefix_cache_queries",
    "vllm:gpu_prefix_cache_hits",
    "vllm:prefix_cache_queries",
    "vllm:prefix_cache_hits",
    "vllm:num_preemptions",
    "vllm:prompt_tokens",
    "vllm:generation_tokens",
  ]) {
    perEngine(counter, "counter", (labels, engine) =>
      lines.push(`${counter}_total{${labels}} ${1000 * (engine + 1)}.0`, `${counter}_created{${labels}} ${created}`),
    );
  }
  perEngine("vllm:request_success", "counter", (labels, engine) => {
    for (const reason of ["stop", "length", "abort"])
      lines.push(
        `vllm:request_success_total{${labels},finished_reason="${reason}"} ${engine + 10}.0`,
        `vllm:request_success_created{${labels},finished_reason="${reason}"} ${created}`,
      );
  });
  for (const [family, buckets] of vllmHistograms(131_072)) {
    perEngine(family, "histogram", (labels, engine) => {
      buckets.forEach((le, i) =>
        lines.push(`${family}_bucket{${labels},le="${bound(le)}"} ${(i + 1) * (engine + 1)}.0`),
      );
      lines.push(
        `${family}_bucket{${labels},le="+Inf"} ${(buckets.length + 1) * (engine + 1)}.0`,
        `${family}_count{${labels}} ${(buckets.length + 1) * (engine + 1)}.0`,
        `${family}_sum{${labels}} 1234.5`,
        `${family}_created{${labels}} ${created}`,
      );
    });
  }
  return `${lines.join("\n")}\n`;
}

/** The per-model counter families of Triton's core (src/metrics.cc), which the per-GPU instance of a model repeats. */
const TRITON_COUNTERS = [
  "nv_inference_request_success",
  "nv_inference_count",
  "nv_inference_exec_count",
  "nv_inference_request_duration_us",
  "nv_inference_queue_duration_us",
  "nv_inference_compute_input_duration_us",
  "nv_inference_compute_infer_duration_us",
  "nv_inference_compute_output_duration_us",
];

/** A Triton server with `models` models (version 1), each with an instance on each of `gpus` GPUs. */
export function tritonManyModelsPage(models: number, gpus: number): string {
  const lines: string[] = [];
  const gpu = (index: number): string => `GPU-${index.toString(16).padStart(8, "0")}-1d8a-4c2b-9f3e-5a6b7c8d9e0f`;
  const each = (write: (model: string, gpuLabel: string) => void): void => {
    for (let m = 0; m < models; m++)
      for (let g = 0; g < gpus; g++) write(`model_${m.toString().padStart(4, "0")}_onnx`, `gpu_uuid="${gpu(g)}",`);
  };
  for (const family of TRITON_COUNTERS) {
    lines.push(`# HELP ${family} Cumulative ${family.slice(13).replaceAll("_", " ")}`, `# TYPE ${family} counter`);
    each((model, gpuLabel) => lines.push(`${family}{${gpuLabel}model="${model}",version="1"} 123456`));
  }
  lines.push(
    "# HELP nv_inference_request_failure Number of failed inference requests, all batch sizes",
    "# TYPE nv_inference_request_failure counter",
  );
  each((model, gpuLabel) => {
    for (const reason of ["REJECTED", "CANCELED", "BACKEND", "OTHER"])
      lines.push(`nv_inference_request_failure{${gpuLabel}model="${model}",reason="${reason}",version="1"} 0`);
  });
  lines.push(
    "# HELP nv_inference_pending_request_count Instantaneous number of pending requests awaiting execution per-model.",
    "# TYPE nv_inference_pending_request_count gauge",
  );
  for (let m = 0; m < models; m++)
    lines.push(`nv_inference_pending_request_count{model="model_${m.toString().padStart(4, "0")}_onnx",version="1"} 0`);
  return `${lines.join("\n")}\n`;
}
