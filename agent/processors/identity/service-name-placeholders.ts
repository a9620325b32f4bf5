/**
 * `service.name` values that name a program or an SDK default, not a model: a span whose
 * resource carries one of these is not attributed by it. The one list of them.
 *
 * - `unknown_service`, `unknown_service:<executable>`: the OpenTelemetry SDKs' default when
 *   OTEL_SERVICE_NAME is unset (opentelemetry-python sdk/resources `Resource.create`, the same in
 *   opentelemetry-cpp and -js). vLLM builds its tracer's resource with `Resource.create`
 *   (vllm/tracing/otel.py `init_tracer`), so a vLLM without OTEL_SERVICE_NAME sends the first.
 * - `text-generation-inference.router`: the default of TGI's `--otlp-service-name`, used by the
 *   router and passed to the shards (text-generation-inference launcher/src/main.rs);
 *   `text-generation-inference.server` is a shard's own default (server/text_generation_server/cli.py).
 * - `triton-inference-server`: Triton's resource default (triton-inference-server/server src/tracer.cc).
 * - `sglang`, `sglang-diffusion`: what SGLang passes to `process_tracing_init` (python/sglang/srt,
 *   tokenizer manager and scheduler); it overrides OTEL_SERVICE_NAME.
 * - `vllm-server`: the value vLLM's OpenTelemetry example sets (examples/online_serving/opentelemetry/README.md).
 */
export const PLACEHOLDER_SERVICE_NAMES: ReadonlySet<string> = new Set([
  "unknown_service",
  "text-generation-inference.router",
  "text-generation-inference.server",
  "triton-inference-server",
  "sglang",
  "sglang-diffusion",
  "vllm-server",
]);

/** Prefixes of placeholder names: the SDKs append the executable (`unknown_service:node`, `unknown_service:java`). */
export const PLACEHOLDER_SERVICE_NAME_PREFIXES: readonly string[] = ["unknown_service:"];

/** Whether `name` is a placeholder rather than something an operator chose (a model name). */
export function isPlaceholderServiceName(name: string): boolean {
  return (
    PLACEHOLDER_SERVICE_NAMES.has(name) || PLACEHOLDER_SERVICE_NAME_PREFIXES.some((prefix) => name.startsWith(prefix))
  );
}
