import { replayPage, type RuntimeGaugeProfile } from "../collectors/runtimes/profile-reader.js";
import type { ModelGauges, RuntimeName, SampleIndex } from "../collectors/runtimes/runtime-gauges.js";
import { sglangProfile } from "./sglang/page.js";
import { tgiProfile } from "./tgi/page.js";
import { tritonTrtllmProfile } from "./triton/trtllm-page.js";
import { tritonProfile } from "./triton/page.js";
import { trtllmProfile } from "./trtllm/page.js";
import { vllmProfile } from "./vllm/page.js";

/**
 * Every runtime gauge profile. The order is the precedence of a page's runtime label: a page that
 * carries Triton's own families is Triton's (the vLLM and TensorRT-LLM families on it are its
 * backends'); otherwise the first profile whose families the page carries names it.
 */
export const RUNTIME_GAUGE_PROFILES: readonly RuntimeGaugeProfile[] = [
  tritonProfile,
  tritonTrtllmProfile,
  vllmProfile,
  sglangProfile,
  tgiProfile,
  trtllmProfile,
];

/** What a page says, read by every profile whose families it carries. */
export interface RuntimePage {
  /** The runtime label of the page's series: the configured one, else the first detected profile's. */
  readonly runtime: RuntimeName;
  /** The profiles that read the page (`families` names), in precedence order. */
  readonly families: readonly string[];
  /** One row per model label value; rows of several profiles for one model are merged. */
  readonly rows: readonly ModelGauges[];
}

/**
 * Reads a page with every profile whose families it carries (a Triton page can carry Triton's own,
 * vLLM's and TensorRT-LLM's), each under its own model label; with `configured`, that runtime's
 * profiles read it even when the page carries none of their names. Rows of one model from several
 * profiles merge: counts add up (a request waits in Triton's queue or in its backend's, never in
 * both), ratios keep the highest. Undefined when no profile applies.
 */
export function readRuntimePage(page: SampleIndex, configured?: RuntimeName): RuntimePage | undefined {
  const profiles = RUNTIME_GAUGE_PROFILES.filter((profile) => profile.runtime === configured || profile.detects(page));
  const first = profiles[0];
  if (first === undefined) return undefined;
  return {
    runtime: configured ?? first.runtime,
    families: profiles.map((profile) => profile.families),
    rows: replayPage(profiles, page),
  };
}
