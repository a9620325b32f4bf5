/**
 * Every metric and label name inferwatch exposes, in one place.
 *
 * The catalog is data: exporters define their prom-client metrics from it, the metric
 * reference (docs/reference/metrics.md) is generated from it (`npm run docs`), and alert and dashboard generators read the
 * same names. Names follow the Prometheus naming guide: an `inferwatch_` prefix, base units
 * (`_seconds`, `_bytes`, `_watts`, `_joules`, `_celsius`, `_hertz`, `_ratio` in 0..1) and `_total`
 * on counters (https://prometheus.io/docs/practices/naming/).
 */

/** Labels carried by every per-GPU series. */
export const GPU_LABELS = ["node", "gpu", "uuid", "gpu_model"] as const;

/** Labels of every LLM request series derived from spans. */
export const LLM_LABELS = ["model", "runtime", "namespace", "pod", "node", "tier"] as const;

/** The model label of the series that label sets past the cardinality limit fold into. */
export const OVERFLOW_MODEL = "__overflow__";

/** Labels added to GPU and process series where the holder of the GPU is known. */
export const POD_LABELS = ["namespace", "pod", "container", "model"] as const;

export type MetricType = "gauge" | "counter" | "histogram";

/** One metric's definition. `labels` is the full label set in exposition order. */
export interface MetricDef {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
  /** Which component exposes it, for the metric reference (docs/reference/metrics.md). */
  readonly component:
    "agent: gpu" | "agent: host" | "agent: self" | "agent: pods" | "agent: spans" | "agent: runtimes" | "analyzer";
}

const gpu = [...GPU_LABELS];
const gpuPod = [...GPU_LABELS, ...POD_LABELS];

function def(
  name: string,
  type: MetricType,
  help: string,
  labels: readonly string[],
  component: MetricDef["component"],
): MetricDef {
  return { name, type, help, labels, component };
}

/** The agent's metric catalog, keyed by a stable identifier used in code. */
export const METRICS = {
  nvmlUp: def(
    "inferwatch_nvml_up",
    "gauge",
    "1 when the NVML library is loaded and initialised, else 0.",
    ["node"],
    "agent: gpu",
  ),
  nvmlInfo: def(
    "inferwatch_nvml_info",
    "gauge",
    "NVML library identity (value 1).",
    ["node", "driver_version", "nvml_version", "cuda_driver_version", "library"],
    "agent: gpu",
  ),
  gpuInfo: def(
    "inferwatch_gpu_info",
    "gauge",
    "GPU identity (value 1).",
    [...gpu, "driver_version", "pci_bus_id", "source"],
    "agent: gpu",
  ),
  gpuUp: def(
    "inferwatch_gpu_up",
    "gauge",
    "1 when the GPU answered its last sample, 0 when it is lost or failing (retried with backoff).",
    gpu,
    "agent: gpu",
  ),
  gpuPodInfo: def(
    "inferwatch_gpu_pod_info",
    "gauge",
    "A container the kubelet assigned this GPU to (value 1); one series per holder.",
    gpuPod,
    "agent: pods",
  ),
  utilization: def(
    "inferwatch_gpu_utilization_ratio",
    "gauge",
    "Share of the last sample period in which a kernel ran on the GPU (0..1).",
    gpuPod,
    "agent: gpu",
  ),
  memoryUtilization: def(
    "inferwatch_gpu_memory_utilization_ratio",
    "gauge",
    "Share of the last sample period in which device memory was read or written (0..1).",
    gpuPod,
    "agent: gpu",
  ),
  memoryUsed: def(
    "inferwatch_gpu_memory_used_bytes",
    "gauge",
    "Device memory in use, bytes (excludes driver-reserved memory where the driver reports it).",
    gpuPod,
    "agent: gpu",
  ),
  memoryTotal: def("inferwatch_gpu_memory_total_bytes", "gauge", "Device memory, bytes.", gpuPod, "agent: gpu"),
  memoryReserved: def(
    "inferwatch_gpu_memory_reserved_bytes",
    "gauge",
    "Device memory reserved by the driver, bytes (drivers with nvmlDeviceGetMemoryInfo_v2).",
    gpuPod,
    "agent: gpu",
  ),
  temperature: def(
    "inferwatch_gpu_temperature_celsius",
    "gauge",
    "GPU die temperature, degrees Celsius.",
    gpuPod,
    "agent: gpu",
  ),
  power: def(
    "inferwatch_gpu_power_watts",
    "gauge",
    "Power draw, watts (averaged over 1 s on Ampere and newer, per NVML).",
    gpuPod,
    "agent: gpu",
  ),
  powerLimit: def("inferwatch_gpu_power_limit_watts", "gauge", "Enforced power limit, watts.", gpuPod, "agent: gpu"),
  energy: def(
    "inferwatch_gpu_energy_joules_total",
    "counter",
    "Energy consumed since the driver loaded, joules (GPU labels only: a counter must not restart when the GPU changes hands).",
    gpu,
    "agent: gpu",
  ),
  smClock: def("inferwatch_gpu_sm_clock_hertz", "gauge", "Current SM clock, hertz.", gpuPod, "agent: gpu"),
  memoryClock: def("inferwatch_gpu_memory_clock_hertz", "gauge", "Current memory clock, hertz.", gpuPod, "agent: gpu"),
  throttled: def(
    "inferwatch_gpu_throttled",
    "gauge",
    "1 while the clocks are held down for this reason (NVML clock-event reasons).",
    [...gpuPod, "reason"],
    "agent: gpu",
  ),
  eccErrors: def(
    "inferwatch_gpu_ecc_errors_total",
    "counter",
    "ECC memory errors since the driver loaded (volatile counters), by type corrected|uncorrected.",
    [...gpu, "type"],
    "agent: gpu",
  ),
  remappedRows: def(
    "inferwatch_gpu_remapped_rows_total",
    "counter",
    "Memory rows remapped, by the kind of error that caused it (correctable|uncorrectable).",
    [...gpu, "type"],
    "agent: gpu",
  ),
  remapPending: def(
    "inferwatch_gpu_row_remap_pending",
    "gauge",
    "1 when a row remapping waits for a GPU reset.",
    gpuPod,
    "agent: gpu",
  ),
  remapFailure: def(
    "inferwatch_gpu_row_remap_failure",
    "gauge",
    "1 when a row remapping has failed (the GPU needs service).",
    gpuPod,
    "agent: gpu",
  ),
  nvlinkUp: def(
    "inferwatch_gpu_nvlink_link_up",
    "gauge",
    "1 when the NVLink link is active.",
    [...gpu, "link"],
    "agent: gpu",
  ),
  migMode: def("inferwatch_gpu_mig_mode", "gauge", "1 when MIG mode is enabled on the GPU.", gpu, "agent: gpu"),
  migMemoryTotal: def(
    "inferwatch_gpu_mig_memory_total_bytes",
    "gauge",
    "Memory of a MIG device, bytes.",
    [...gpu, "gpu_instance", "compute_instance", "profile", "mig_uuid"],
    "agent: gpu",
  ),
  migMemoryUsed: def(
    "inferwatch_gpu_mig_memory_used_bytes",
    "gauge",
    "Memory in use on a MIG device, bytes.",
    [...gpu, "gpu_instance", "compute_instance", "profile", "mig_uuid"],
    "agent: gpu",
  ),
  processMemory: def(
    "inferwatch_gpu_process_memory_bytes",
    "gauge",
    "GPU memory used by a compute process, bytes.",
    [...gpuPod, "pid"],
    "agent: gpu",
  ),
  xidErrors: def(
    "inferwatch_gpu_xid_errors_total",
    "counter",
    "XID critical-error events since the agent started, by XID code; `gpu_instance` and `compute_instance` name the MIG instance when NVML attributes the event to one.",
    [...gpu, "xid", "gpu_instance", "compute_instance"],
    "agent: gpu",
  ),
  xidLast: def(
    "inferwatch_gpu_xid_last_timestamp_seconds",
    "gauge",
    "Unix time at which this XID was last seen on this GPU (and MIG instance, where attributed).",
    [...gpu, "xid", "gpu_instance", "compute_instance"],
    "agent: gpu",
  ),
  fieldUnsupported: def(
    "inferwatch_gpu_field_unsupported",
    "gauge",
    "1 for a field this GPU or driver cannot report; it is no longer asked for.",
    [...gpu, "field"],
    "agent: gpu",
  ),
  // GPM (NVML GPU Performance Monitoring, Hopper and newer): what dcgm-exporter exports as DCGM_FI_PROF_*.
  smActive: def(
    "inferwatch_gpu_sm_active_ratio",
    "gauge",
    "Share of the GPU's SMs that were busy over the last sampling interval (NVML GPM SM_UTIL; DCGM_FI_PROF_SM_ACTIVE), 0..1. On a MIG GPU whose parent cannot be sampled: its GPU instances' weighted by compute slices, slices without an instance counting as idle.",
    gpuPod,
    "agent: gpu",
  ),
  smOccupancy: def(
    "inferwatch_gpu_sm_occupancy_ratio",
    "gauge",
    "Warps resident on the SMs against the theoretical maximum (NVML GPM SM_OCCUPANCY; DCGM_FI_PROF_SM_OCCUPANCY), 0..1.",
    gpuPod,
    "agent: gpu",
  ),
  tensorActive: def(
    "inferwatch_gpu_tensor_active_ratio",
    "gauge",
    "Share of time the SMs ran any tensor-core instruction (NVML GPM ANY_TENSOR_UTIL; DCGM_FI_PROF_PIPE_TENSOR_ACTIVE), 0..1.",
    gpuPod,
    "agent: gpu",
  ),
  dramActive: def(
    "inferwatch_gpu_dram_active_ratio",
    "gauge",
    "Device-memory bandwidth used against the theoretical maximum (NVML GPM DRAM_BW_UTIL; DCGM_FI_PROF_DRAM_ACTIVE), 0..1.",
    gpuPod,
    "agent: gpu",
  ),
  graphicsActive: def(
    "inferwatch_gpu_graphics_engine_active_ratio",
    "gauge",
    "Share of time any compute or graphics work was active (NVML GPM GRAPHICS_UTIL; DCGM_FI_PROF_GR_ENGINE_ACTIVE), 0..1.",
    gpuPod,
    "agent: gpu",
  ),
  fp64Active: def(
    "inferwatch_gpu_fp64_active_ratio",
    "gauge",
    "Share of time the SMs ran non-tensor FP64 math (NVML GPM FP64_UTIL; DCGM_FI_PROF_PIPE_FP64_ACTIVE), 0..1.",
    gpuPod,
    "agent: gpu",
  ),
  fp32Active: def(
    "inferwatch_gpu_fp32_active_ratio",
    "gauge",
    "Share of time the SMs ran non-tensor FP32 math (NVML GPM FP32_UTIL; DCGM_FI_PROF_PIPE_FP32_ACTIVE), 0..1.",
    gpuPod,
    "agent: gpu",
  ),
  fp16Active: def(
    "inferwatch_gpu_fp16_active_ratio",
    "gauge",
    "Share of time the SMs ran non-tensor FP16 math (NVML GPM FP16_UTIL; DCGM_FI_PROF_PIPE_FP16_ACTIVE), 0..1.",
    gpuPod,
    "agent: gpu",
  ),
  pcieTx: def(
    "inferwatch_gpu_pcie_tx_bytes_per_second",
    "gauge",
    "PCIe traffic sent by the GPU over the last sampling interval, bytes per second (NVML GPM PCIE_TX_PER_SEC; DCGM_FI_PROF_PCIE_TX_BYTES).",
    gpuPod,
    "agent: gpu",
  ),
  pcieRx: def(
    "inferwatch_gpu_pcie_rx_bytes_per_second",
    "gauge",
    "PCIe traffic received by the GPU over the last sampling interval, bytes per second (NVML GPM PCIE_RX_PER_SEC; DCGM_FI_PROF_PCIE_RX_BYTES).",
    gpuPod,
    "agent: gpu",
  ),
  nvlinkTx: def(
    "inferwatch_gpu_nvlink_tx_bytes_per_second",
    "gauge",
    "NVLink traffic sent over all links over the last sampling interval, bytes per second (NVML GPM NVLINK_TOTAL_TX_PER_SEC).",
    gpuPod,
    "agent: gpu",
  ),
  nvlinkRx: def(
    "inferwatch_gpu_nvlink_rx_bytes_per_second",
    "gauge",
    "NVLink traffic received over all links over the last sampling interval, bytes per second (NVML GPM NVLINK_TOTAL_RX_PER_SEC).",
    gpuPod,
    "agent: gpu",
  ),
  gpmSupported: def(
    "inferwatch_gpu_gpm_supported",
    "gauge",
    "1 when the GPU reports GPM activity metrics (nvmlGpmQueryDeviceSupport; Hopper and newer), 0 when it does not: utilization then falls back to inferwatch_gpu_utilization_ratio.",
    gpu,
    "agent: gpu",
  ),
  gpmPermissionErrors: def(
    "inferwatch_gpu_gpm_permission_errors_total",
    "counter",
    "GPM samples NVML refused with NO_PERMISSION since the agent started (seen in unprivileged containers); each is retried the next round.",
    gpu,
    "agent: gpu",
  ),
  migSmActive: def(
    "inferwatch_gpu_mig_sm_active_ratio",
    "gauge",
    "SM activity of a MIG device's GPU instance (NVML GPM via nvmlGpmMigSampleGet), 0..1; compute instances of one GPU instance share it.",
    [...gpu, "gpu_instance", "compute_instance", "profile", "mig_uuid"],
    "agent: gpu",
  ),
  migSmOccupancy: def(
    "inferwatch_gpu_mig_sm_occupancy_ratio",
    "gauge",
    "SM occupancy of a MIG device's GPU instance (NVML GPM), 0..1.",
    [...gpu, "gpu_instance", "compute_instance", "profile", "mig_uuid"],
    "agent: gpu",
  ),
  migTensorActive: def(
    "inferwatch_gpu_mig_tensor_active_ratio",
    "gauge",
    "Tensor-core activity of a MIG device's GPU instance (NVML GPM), 0..1.",
    [...gpu, "gpu_instance", "compute_instance", "profile", "mig_uuid"],
    "agent: gpu",
  ),
  migDramActive: def(
    "inferwatch_gpu_mig_dram_active_ratio",
    "gauge",
    "Memory-bandwidth use of a MIG device's GPU instance (NVML GPM), 0..1.",
    [...gpu, "gpu_instance", "compute_instance", "profile", "mig_uuid"],
    "agent: gpu",
  ),
  migGraphicsActive: def(
    "inferwatch_gpu_mig_graphics_engine_active_ratio",
    "gauge",
    "Share of time a MIG device's GPU instance had work active (NVML GPM), 0..1.",
    [...gpu, "gpu_instance", "compute_instance", "profile", "mig_uuid"],
    "agent: gpu",
  ),
  // dcgm-exporter parity through nvmlDeviceGetFieldValues.
  memoryTemperature: def(
    "inferwatch_gpu_memory_temperature_celsius",
    "gauge",
    "HBM (device memory) temperature, degrees Celsius (NVML_FI_DEV_MEMORY_TEMP; DCGM_FI_DEV_MEMORY_TEMP).",
    gpuPod,
    "agent: gpu",
  ),
  memoryTemperatureMax: def(
    "inferwatch_gpu_memory_temperature_max_celsius",
    "gauge",
    "Maximum operating temperature of the HBM, degrees Celsius (NVML_TEMPERATURE_THRESHOLD_MEM_MAX).",
    gpu,
    "agent: gpu",
  ),
  pcieReplays: def(
    "inferwatch_gpu_pcie_replays_total",
    "counter",
    "PCIe replays (link-level retransmissions) since the driver loaded (NVML_FI_DEV_PCIE_REPLAY_COUNTER; DCGM_FI_DEV_PCIE_REPLAY_COUNTER).",
    gpu,
    "agent: gpu",
  ),
  throttleTime: def(
    "inferwatch_gpu_throttle_seconds_total",
    "counter",
    "Time the clocks were held down since the driver loaded, seconds, by reason: power, thermal, sync_boost, board_limit (NVML perf-policy counters; DCGM_FI_DEV_*_VIOLATION) and, on drivers with nvml.h 12.9 or newer, hw_thermal_slowdown and hw_power_brake_slowdown. Catches a brake shorter than the sampling interval.",
    [...gpu, "reason"],
    "agent: gpu",
  ),
  nvlinkData: def(
    "inferwatch_gpu_nvlink_data_bytes_total",
    "counter",
    "NVLink payload data over all links since the driver loaded, bytes, by direction tx|rx (NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX/RX; DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL).",
    [...gpu, "direction"],
    "agent: gpu",
  ),

  hostCpuUtilization: def(
    "inferwatch_host_cpu_utilization_ratio",
    "gauge",
    "Share of CPU time not idle since the previous host sample (0..1).",
    ["node"],
    "agent: host",
  ),
  hostCpuCores: def("inferwatch_host_cpu_cores", "gauge", "Logical CPU cores.", ["node"], "agent: host"),
  hostLoad: def(
    "inferwatch_host_load_average",
    "gauge",
    "System load average over the period.",
    ["node", "period"],
    "agent: host",
  ),
  hostMemoryTotal: def("inferwatch_host_memory_total_bytes", "gauge", "Host memory, bytes.", ["node"], "agent: host"),
  hostMemoryAvailable: def(
    "inferwatch_host_memory_available_bytes",
    "gauge",
    "Host memory available to new work, bytes.",
    ["node"],
    "agent: host",
  ),
  hostVolumeSize: def(
    "inferwatch_host_volume_size_bytes",
    "gauge",
    "Size of the volume holding model weights, bytes.",
    ["node", "path", "mount"],
    "agent: host",
  ),
  hostVolumeFree: def(
    "inferwatch_host_volume_free_bytes",
    "gauge",
    "Free space on the volume holding model weights, bytes.",
    ["node", "path", "mount"],
    "agent: host",
  ),
  hostVolumeRead: def(
    "inferwatch_host_volume_read_bytes_total",
    "counter",
    "Bytes read from the block device under the model-weights volume.",
    ["node", "path", "device"],
    "agent: host",
  ),
  hostVolumeWritten: def(
    "inferwatch_host_volume_written_bytes_total",
    "counter",
    "Bytes written to the block device under the model-weights volume.",
    ["node", "path", "device"],
    "agent: host",
  ),
  hostNetworkReceive: def(
    "inferwatch_host_network_receive_bytes_total",
    "counter",
    "Bytes received on a network interface.",
    ["node", "interface"],
    "agent: host",
  ),
  hostNetworkTransmit: def(
    "inferwatch_host_network_transmit_bytes_total",
    "counter",
    "Bytes sent on a network interface.",
    ["node", "interface"],
    "agent: host",
  ),

  podResourcesUp: def(
    "inferwatch_pod_resources_up",
    "gauge",
    "1 when the last kubelet pod-resources refresh succeeded.",
    ["node"],
    "agent: pods",
  ),
  podResourcesAge: def(
    "inferwatch_pod_resources_age_seconds",
    "gauge",
    "Seconds since the GPU-to-pod mapping was last refreshed.",
    ["node"],
    "agent: pods",
  ),

  llmRequestDuration: def(
    "inferwatch_llm_request_duration_seconds",
    "histogram",
    "End-to-end latency of LLM requests, seconds (arrival to last token).",
    LLM_LABELS,
    "agent: spans",
  ),
  llmQueueDuration: def(
    "inferwatch_llm_queue_duration_seconds",
    "histogram",
    "Time LLM requests waited in the runtime's queue, seconds.",
    LLM_LABELS,
    "agent: spans",
  ),
  llmPrefillDuration: def(
    "inferwatch_llm_prefill_duration_seconds",
    "histogram",
    "Prefill time of LLM requests (scheduled to first token), seconds.",
    LLM_LABELS,
    "agent: spans",
  ),
  llmDecodeDuration: def(
    "inferwatch_llm_decode_duration_seconds",
    "histogram",
    "Decode time of LLM requests (first to last token), seconds.",
    LLM_LABELS,
    "agent: spans",
  ),
  llmTimeToFirstToken: def(
    "inferwatch_llm_time_to_first_token_seconds",
    "histogram",
    "Time to first token of LLM requests, seconds.",
    LLM_LABELS,
    "agent: spans",
  ),
  llmTimePerOutputToken: def(
    "inferwatch_llm_time_per_output_token_seconds",
    "histogram",
    "Mean time per output token after the first, seconds.",
    LLM_LABELS,
    "agent: spans",
  ),
  llmRequests: def(
    "inferwatch_llm_requests_total",
    "counter",
    "LLM requests finished, by status ok|error: from spans, and from the runtime's own finished-request counters where it exports them (vLLM request_success_total by finished_reason, SGLang, TGI, Triton, trtllm-serve); per series the larger of the two counts, never their sum.",
    [...LLM_LABELS, "status"],
    "agent: spans",
  ),
  llmTokens: def(
    "inferwatch_llm_tokens_total",
    "counter",
    "Tokens of LLM requests, by type prompt|completion: from spans, and from the runtime's token counters where it exports them; per series the larger of the two.",
    [...LLM_LABELS, "type"],
    "agent: spans",
  ),
  llmLastRequest: def(
    "inferwatch_llm_last_request_timestamp_seconds",
    "gauge",
    "Unix time at which the last LLM request of the series ended (the idle signal).",
    LLM_LABELS,
    "agent: spans",
  ),
  llmSeries: def(
    "inferwatch_llm_series",
    "gauge",
    "LLM request label sets held now (bounded by the cardinality limit).",
    ["node"],
    "agent: spans",
  ),
  llmOverflow: def(
    "inferwatch_llm_series_overflow_total",
    "counter",
    'Spans recorded under model="__overflow__" because their label set was past the cardinality limit.',
    ["node"],
    "agent: spans",
  ),
  llmExpired: def(
    "inferwatch_llm_series_expired_total",
    "counter",
    "LLM request label sets dropped after the series TTL without requests.",
    ["node"],
    "agent: spans",
  ),
  llmUnattributed: def(
    "inferwatch_llm_unattributed_spans_total",
    "counter",
    'LLM request spans recorded under model="unknown" because nothing named their model, by runtime and by why the pod-based lookups failed (no_pod_identity, pod_not_on_node, peer_ambiguous, pod_without_model, pod_several_models).',
    ["node", "runtime", "reason"],
    "agent: spans",
  ),
  otlpSpans: def(
    "inferwatch_otlp_spans_total",
    "counter",
    "Spans received over OTLP, by outcome: recorded (an LLM request), ignored (not an LLM request span), rejected (malformed).",
    ["node", "outcome"],
    "agent: spans",
  ),

  llmKvCacheUsage: def(
    "inferwatch_llm_kv_cache_usage_ratio",
    "gauge",
    "Share of the runtime's KV-cache in use (vLLM kv_cache_usage_perc, SGLang token_usage, TensorRT-LLM used/max blocks or kv_cache_utilization, TGI batch tokens/max total tokens), 0..1; the highest of the model's engines.",
    LLM_LABELS,
    "agent: runtimes",
  ),
  llmPrefixCacheHitRatio: def(
    "inferwatch_llm_prefix_cache_hit_ratio",
    "gauge",
    "Share of prefix-cache queries (tokens) that hit, over the queries between the runtime's last two scrapes that saw any (the first scrape: since the runtime started), 0..1; where a runtime exports only a hit-rate gauge (vLLM V0 gpu_prefix_cache_hit_rate, TensorRT-LLM kv_cache_hit_rate), that gauge.",
    LLM_LABELS,
    "agent: runtimes",
  ),
  llmPrefixCacheQueries: def(
    "inferwatch_llm_prefix_cache_queries_total",
    "counter",
    "Prefix-cache queries since the runtime started, in tokens (vLLM prefix_cache_queries, SGLang and trtllm-serve prompt tokens) or blocks (trtllm-serve without cached-token counters: reused + missed blocks).",
    LLM_LABELS,
    "agent: runtimes",
  ),
  llmPrefixCacheHits: def(
    "inferwatch_llm_prefix_cache_hits_total",
    "counter",
    "Prefix-cache hits since the runtime started, in tokens (vLLM prefix_cache_hits, SGLang cached_tokens, trtllm-serve prompt_cached_tokens) or blocks (trtllm-serve reused blocks).",
    LLM_LABELS,
    "agent: runtimes",
  ),
  llmQueueDepth: def(
    "inferwatch_llm_queue_depth",
    "gauge",
    'Requests waiting in the runtime\'s queue now (vLLM num_requests_waiting_by_reason{reason="capacity"} where present, else num_requests_waiting; SGLang num_queue_reqs; TGI tgi_queue_size; Triton pending + TensorRT-LLM waiting; trtllm-serve num_requests_waiting).',
    LLM_LABELS,
    "agent: runtimes",
  ),
  llmBatchSize: def(
    "inferwatch_llm_batch_size",
    "gauge",
    "Requests in the runtime's running batch now (vLLM num_requests_running, SGLang num_running_reqs, TGI tgi_batch_current_size, TensorRT-LLM scheduled requests, trtllm-serve num_requests_running).",
    LLM_LABELS,
    "agent: runtimes",
  ),
  llmPreemptions: def(
    "inferwatch_llm_preemptions_total",
    "counter",
    "Requests the runtime preempted (KV-cache exhausted) since it started (vLLM num_preemptions, SGLang num_retracted_requests).",
    LLM_LABELS,
    "agent: runtimes",
  ),
  llmMeanQueueTime: def(
    "inferwatch_llm_runtime_mean_queue_seconds",
    "gauge",
    "Mean time the requests that finished between the runtime's last two scrapes that saw any spent queued, seconds, from the runtime's cumulative duration counters (Triton nv_inference_queue_duration_us ÷ nv_inference_request_success). A mean, not a distribution: no percentile can be read from it.",
    LLM_LABELS,
    "agent: runtimes",
  ),
  llmMeanComputeTime: def(
    "inferwatch_llm_runtime_mean_compute_seconds",
    "gauge",
    "Mean compute time (input + inference + output) of the requests that finished between the runtime's last two scrapes that saw any, seconds (Triton nv_inference_compute_{input,infer,output}_duration_us ÷ nv_inference_request_success). A mean, not a distribution.",
    LLM_LABELS,
    "agent: runtimes",
  ),
  runtimeSeries: def(
    "inferwatch_runtime_series",
    "gauge",
    "Runtime gauge label sets (model rows) held now, bounded per target and per agent (agent.runtimes.maxSeriesPerTarget, maxSeries).",
    ["node"],
    "agent: runtimes",
  ),
  runtimeSeriesOverflow: def(
    "inferwatch_runtime_series_overflow_total",
    "counter",
    'Model rows of runtime pages folded into model="__overflow__" because a target or the agent was at its series limit, counted once per scrape that folded them, by limit (target|agent).',
    ["node", "limit"],
    "agent: runtimes",
  ),
  runtimeScrapeUp: def(
    "inferwatch_runtime_scrape_up",
    "gauge",
    "1 when the last scrape of the runtime's /metrics answered in time with a readable page, else 0.",
    ["node", "target", "runtime"],
    "agent: runtimes",
  ),
  runtimeScrapeDuration: def(
    "inferwatch_runtime_scrape_duration_seconds",
    "gauge",
    "Wall time of the last scrape of the runtime's /metrics, seconds (the timeout when it hung).",
    ["node", "target", "runtime"],
    "agent: runtimes",
  ),

  otlpInflight: def(
    "inferwatch_otlp_inflight_bytes",
    "gauge",
    "OTLP request bytes being received or decoded now (bounded by --otlp-max-inflight).",
    ["node"],
    "agent: spans",
  ),
  otlpRefused: def(
    "inferwatch_otlp_refused_requests_total",
    "counter",
    "OTLP requests refused with 429 / RESOURCE_EXHAUSTED because the in-flight budget was full.",
    ["node"],
    "agent: spans",
  ),
  httpRequestsRefused: def(
    "inferwatch_http_requests_refused_total",
    "counter",
    "Requests a listener refused before doing their work, by listener (metrics, otlp-http, otlp-grpc, analyzer) and reason: unauthenticated, forbidden, too_large, busy (in-flight budget full), connection_limit (connection past the listener's cap, closed). The agent and the analyzer each expose their own listeners'.",
    ["listener", "reason"],
    "agent: self",
  ),
  forwardedSpans: def(
    "inferwatch_otlp_forwarded_spans_total",
    "counter",
    "Spans forwarded upstream, by result: sent, dropped_queue_full, dropped_export_failed, dropped_shutdown.",
    ["node", "result"],
    "agent: spans",
  ),
  forwardQueue: def(
    "inferwatch_otlp_forward_queue_spans",
    "gauge",
    "Spans waiting to be forwarded upstream.",
    ["node"],
    "agent: spans",
  ),
  // InfluxDB sink (agent/exporters/influx-sink.ts), registered only when agent.influx.url is set.
  influxPointsSpooled: def(
    "inferwatch_influx_points_spooled_total",
    "counter",
    "Points appended to the InfluxDB sink's disk spool (every point goes through it before it is sent).",
    ["node"],
    "agent: self",
  ),
  influxPointsWritten: def(
    "inferwatch_influx_points_written_total",
    "counter",
    "Points InfluxDB acknowledged.",
    ["node"],
    "agent: self",
  ),
  influxPointsDropped: def(
    "inferwatch_influx_points_dropped_total",
    "counter",
    "Points lost, by reason: spool_full (oldest spooled points deleted past the spool bound), disk_full (oldest spooled points deleted because the disk under the spool was full), rejected (InfluxDB answered 400: malformed or a field type conflict), spool_error (the disk write failed and nothing older was left to delete).",
    ["node", "reason"],
    "agent: self",
  ),
  influxWriteErrors: def(
    "inferwatch_influx_write_errors_total",
    "counter",
    "Failed writes to InfluxDB (unreachable, timeout, 5xx, refused credentials); their points stay spooled and are retried.",
    ["node"],
    "agent: self",
  ),
  influxSpoolBytes: def(
    "inferwatch_influx_spool_bytes",
    "gauge",
    "Bytes the InfluxDB sink's spool segment files hold (bounded by agent.influx.spoolMaxBytes).",
    ["node"],
    "agent: self",
  ),
  influxSpoolPoints: def(
    "inferwatch_influx_spool_points",
    "gauge",
    "Spooled points not yet acknowledged by InfluxDB.",
    ["node"],
    "agent: self",
  ),
  influxSpoolCorrupt: def(
    "inferwatch_influx_spool_corrupt_segments_total",
    "counter",
    "Spool segments found at start with a torn or corrupt tail (a write cut short by a crash); the bad bytes are skipped.",
    ["node"],
    "agent: self",
  ),

  buildInfo: def(
    "inferwatch_agent_build_info",
    "gauge",
    "Agent build (value 1).",
    ["node", "version", "node_version"],
    "agent: self",
  ),
  collectorDuration: def(
    "inferwatch_agent_collector_duration_seconds",
    "gauge",
    "Wall time of the collector's last round, seconds (a GPU round taken in a batch: its own time on the sampling thread).",
    ["node", "collector"],
    "agent: self",
  ),
  collectorSuccess: def(
    "inferwatch_agent_collector_success",
    "gauge",
    "1 when the collector's last run produced a sample.",
    ["node", "collector"],
    "agent: self",
  ),
  collectorRuns: def(
    "inferwatch_agent_collector_runs_total",
    "counter",
    "Rounds of a collector since the agent started (its rate is the collector's real cadence; GPU rounds taken in a batch count one each).",
    ["node", "collector"],
    "agent: self",
  ),
  collectorErrors: def(
    "inferwatch_agent_collector_errors_total",
    "counter",
    "Errors met by a collector (a failed field counts once per run).",
    ["node", "collector"],
    "agent: self",
  ),
  sampleAge: def(
    "inferwatch_agent_sample_age_seconds",
    "gauge",
    "Age of the sample this scrape serves, seconds (computed at scrape time).",
    ["node", "collector"],
    "agent: self",
  ),
  sampleTimestamp: def(
    "inferwatch_agent_sample_timestamp_seconds",
    "gauge",
    "Unix time of the sample this scrape serves.",
    ["node", "collector"],
    "agent: self",
  ),
  eventLoopDelayMax: def(
    "inferwatch_agent_event_loop_delay_max_seconds",
    "gauge",
    "Longest event-loop delay of the last 30 to 60 s, seconds (perf_hooks.monitorEventLoopDelay); a stall of the agent shows here.",
    ["node"],
    "agent: self",
  ),

  sloBurnRate: def(
    "inferwatch_slo_burn_rate",
    "gauge",
    "Burn rate of the SLO's error budget over the window (1 spends the budget exactly over the period); absent when the window has no traffic.",
    ["slo", "model_class", "window"],
    "analyzer",
  ),
  sloBudgetRemaining: def(
    "inferwatch_slo_error_budget_remaining_ratio",
    "gauge",
    "Share of the period's error budget left (below 0 when overspent); 1 without traffic.",
    ["slo", "model_class"],
    "analyzer",
  ),
  sloObjective: def(
    "inferwatch_slo_objective_ratio",
    "gauge",
    "The SLO's objective, 0..1.",
    ["slo", "model_class"],
    "analyzer",
  ),
  sloFiring: def(
    "inferwatch_slo_alert_firing",
    "gauge",
    "1 while the window pair's multiwindow burn-rate condition holds.",
    ["slo", "model_class", "window", "severity"],
    "analyzer",
  ),
  fleetUtilization: def(
    "inferwatch_fleet_gpu_utilization_ratio",
    "gauge",
    "Time-weighted GPU utilization of the pool over the last hour, 0..1, on `basis`: sm (GPM SM activity), tensor, busy (NVML utilization.gpu) or mixed (GPUs without GPM on busy time).",
    ["pool", "basis"],
    "analyzer",
  ),
  fleetPoolHoursAtTarget: def(
    "inferwatch_fleet_pool_hours_at_target_ratio",
    "gauge",
    "Share of the pool's hours of the last day at or above the utilization target, on `basis` as inferwatch_fleet_gpu_utilization_ratio.",
    ["pool", "basis"],
    "analyzer",
  ),
  fleetFragmentation: def(
    "inferwatch_fleet_fragmentation_ratio",
    "gauge",
    "FGD expected fragmentation: share of the pool's free GPU memory the observed replica shapes cannot use.",
    ["pool"],
    "analyzer",
  ),
  fleetStranded: def(
    "inferwatch_fleet_stranded_memory_bytes",
    "gauge",
    "Free GPU memory of the pool in pieces too small for any replica shape seen in the fleet, bytes.",
    ["pool"],
    "analyzer",
  ),
  fleetTokensPerGpu: def(
    "inferwatch_fleet_tokens_per_second_per_gpu",
    "gauge",
    "Tokens per second per GPU over the last hour.",
    [],
    "analyzer",
  ),
  fleetJoulesPerToken: def(
    "inferwatch_fleet_joules_per_token",
    "gauge",
    "GPU energy per token over the last hour, joules.",
    [],
    "analyzer",
  ),
  recommendationGpus: def(
    "inferwatch_recommendation_gpus_reclaimable",
    "gauge",
    "GPUs the current recommendations would free in the pool (consolidation plus idle eviction).",
    ["pool"],
    "analyzer",
  ),
  recommendationMoves: def(
    "inferwatch_recommendation_moves",
    "gauge",
    "Replica moves in the pool's consolidation plan.",
    ["pool"],
    "analyzer",
  ),
  recommendationIdle: def(
    "inferwatch_recommendation_idle_replicas",
    "gauge",
    "Replicas recommended for eviction or scale to zero in the pool.",
    ["pool"],
    "analyzer",
  ),
  analyzerEvaluation: def(
    "inferwatch_analyzer_evaluation_duration_seconds",
    "gauge",
    "Wall time of the last evaluation, seconds.",
    [],
    "analyzer",
  ),
  analyzerEvaluationTime: def(
    "inferwatch_analyzer_last_evaluation_timestamp_seconds",
    "gauge",
    "Unix time of the last successful evaluation (the answers served are this old).",
    [],
    "analyzer",
  ),
  analyzerQueries: def(
    "inferwatch_analyzer_store_queries",
    "gauge",
    "Store queries the last evaluation made.",
    [],
    "analyzer",
  ),
  analyzerStale: def(
    "inferwatch_analyzer_stale",
    "gauge",
    "1 when a part of the last evaluation failed and some answers served are from an earlier one.",
    [],
    "analyzer",
  ),
  analyzerPartStale: def(
    "inferwatch_analyzer_part_stale",
    "gauge",
    "1 when the evaluation part's last run failed (its answer is from inferwatch_analyzer_part_timestamp_seconds).",
    ["part"],
    "analyzer",
  ),
  analyzerPartTimestamp: def(
    "inferwatch_analyzer_part_timestamp_seconds",
    "gauge",
    "Unix time the evaluation part's served answer describes.",
    ["part"],
    "analyzer",
  ),
  analyzerPartDuration: def(
    "inferwatch_analyzer_part_duration_seconds",
    "gauge",
    "Wall time of the evaluation part's last run, seconds.",
    ["part"],
    "analyzer",
  ),
  analyzerStoreBytes: def(
    "inferwatch_analyzer_store_received_bytes",
    "gauge",
    "Answer bytes (decoded) the last evaluation received from the store.",
    [],
    "analyzer",
  ),
  analyzerStoreLargestAnswer: def(
    "inferwatch_analyzer_store_largest_answer_bytes",
    "gauge",
    "The largest single answer of the last evaluation, bytes.",
    [],
    "analyzer",
  ),
  analyzerStoreRetries: def(
    "inferwatch_analyzer_store_retries",
    "gauge",
    "Store queries the last evaluation retried (429, 502/503/504, connection reset).",
    [],
    "analyzer",
  ),
  analyzerStoreWarnings: def(
    "inferwatch_analyzer_store_warnings",
    "gauge",
    "Warnings the store sent with the last evaluation's answers (Thanos/Mimir partial responses).",
    [],
    "analyzer",
  ),
  analyzerRecordedSource: def(
    "inferwatch_analyzer_recorded_source",
    "gauge",
    "1 when the family's long SLO windows are read from the recording rules of `inferwatch rules`, 0 when from the raw counters.",
    ["family"],
    "analyzer",
  ),
} as const satisfies Record<string, MetricDef>;

export type MetricKey = keyof typeof METRICS;

/** NVML clock-event reason bits and the `reason` label each one gets (nvml.h `nvmlClocksEventReason*`). */
export const THROTTLE_REASONS: readonly { readonly bit: number; readonly reason: string }[] = [
  { bit: 0x1, reason: "gpu_idle" },
  { bit: 0x2, reason: "applications_clocks_setting" },
  { bit: 0x4, reason: "sw_power_cap" },
  { bit: 0x8, reason: "hw_slowdown" },
  { bit: 0x10, reason: "sync_boost" },
  { bit: 0x20, reason: "sw_thermal_slowdown" },
  { bit: 0x40, reason: "hw_thermal_slowdown" },
  { bit: 0x80, reason: "hw_power_brake_slowdown" },
  { bit: 0x100, reason: "display_clock_setting" },
];

/** Collector names, as they appear in the agent's self-metrics `collector` label. */
export const COLLECTORS = { gpu: "gpu", host: "host", pods: "pods", xid: "xid", runtimes: "runtimes" } as const;

/**
 * Metrics inferwatch's rules read but does not expose: Prometheus's own scrape health and
 * kube-state-metrics' node capacity (the set of GPU nodes an agent must run on).
 */
export const EXTERNAL_METRICS = {
  up: "up",
  kubeNodeCapacity: "kube_node_status_capacity",
} as const;

/**
 * Recording rules generated by alerts/ (`level:metric:operation`,
 * https://prometheus.io/docs/practices/rules/). `level` is `slo`: the series carry `slo` and
 * `model_class` only. A windowed rule's name ends with its window (`…:ratio_rate5m`).
 */
export const RECORDING_RULES = {
  /** Good ÷ total events of one SLO over a window; absent when the window had no events. */
  sloGoodRatio: "slo:inferwatch_slo_good_events:ratio_rate",
  /** 1 − bad ÷ allowed bad over the SLO period (below 0 when overspent); absent without traffic. */
  sloBudgetRemaining: "slo:inferwatch_slo_error_budget_remaining:ratio",
} as const;

/**
 * The window of the recorded increases: every counter the SLOs read is recorded as its increase
 * over 5 minutes, every 5 minutes, summed by model (and `le`, `status`), so that a long window is
 * the `sum_over_time` of the increases it holds (Sloth's optimized long windows, over counts rather
 * than ratios) and never reads a day of raw samples of every pod.
 */
export const RECORDED_INCREASE_MS = 5 * 60_000;

/**
 * The recording rule holding `sum by (<by>) (increase(<metric>[5m]))` (`level:metric:operation`,
 * https://prometheus.io/docs/practices/rules/: the level names the kept labels, `_total` is dropped
 * from a counter's name once it is an increase).
 */
export function increaseRuleName(metric: string, by: readonly string[]): string {
  return `${by.join("_")}:${metric.replace(/_total$/, "")}:increase5m`;
}

/**
 * The recording rules of a gauge's per-node totals: at each evaluation, `sum` of the node's devices'
 * values (each device the highest of its series, so pod labels never multiply a GPU) and their
 * `count`. The metric is a parameter (utilization of whichever activity family).
 */
export function nodeGaugeRuleName(metric: string, stat: "sum" | "count"): string {
  return `node:${metric}:${stat}`;
}

/** Labels the generated alerts carry besides the series' own. */
export const ALERT_LABELS = {
  slo: "slo",
  modelClass: "model_class",
  severity: "severity",
  /** The burn window pair's id (`page-1h-5m`): the key the Alertmanager inhibitions match on. */
  window: "window",
  longWindow: "long_window",
  shortWindow: "short_window",
} as const;

/** Alert names generated by alerts/ (CamelCase, at most 40 characters: mixtool's lint rules). */
export const ALERTS = {
  sloBurn: "InferwatchSloErrorBudgetBurn",
  sloBudgetExhausted: "InferwatchSloErrorBudgetExhausted",
  gpuXidCritical: "InferwatchGpuXidCritical",
  gpuXidContainedEcc: "InferwatchGpuXidContainedEccError",
  gpuXidApplication: "InferwatchGpuXidApplicationFault",
  gpuEccUncorrectable: "InferwatchGpuEccUncorrectable",
  gpuRowRemapFailure: "InferwatchGpuRowRemapFailure",
  gpuThermalThrottling: "InferwatchGpuThermalThrottling",
  gpuPowerThrottling: "InferwatchGpuPowerThrottling",
  gpuDown: "InferwatchGpuDown",
  gpuProcessMemoryFull: "InferwatchGpuProcessAtMemoryLimit",
  gpuMemoryOverTemperature: "InferwatchGpuMemoryOverTemperature",
  gpuPcieReplayStorm: "InferwatchGpuPcieReplayStorm",
  gpuHardwareSlowdown: "InferwatchGpuHardwareSlowdown",
  nvmlDown: "InferwatchNvmlDown",
  agentDown: "InferwatchAgentDown",
  agentAbsent: "InferwatchAgentAbsentOnGpuNode",
  agentSamplesStale: "InferwatchAgentSamplesStale",
  poolUtilizationLow: "InferwatchPoolUtilizationLow",
  poolFragmentationHigh: "InferwatchPoolFragmentationHigh",
  gpusReclaimable: "InferwatchGpusReclaimable",
  idleModelsHoldingGpus: "InferwatchIdleModelsHoldingGpus",
} as const;
