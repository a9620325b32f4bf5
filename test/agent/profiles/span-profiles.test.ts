import { describe, expect, it } from "vitest";
import { PROFILES, profileFor } from "../../../agent/profiles/span-profiles.js";
import type { DecodedSpan } from "../../../agent/receivers/otlp-model.js";
import { genaiSpan, tgiSpan, tritonComputeSpan, tritonSpan, vllmSpan } from "../../fixtures/spans.js";

const MODEL = { "gen_ai.request.model": "meta-llama/Llama-3.1-8B-Instruct" };

describe("profileFor", () => {
  it("tries profiles in the order vllm, sglang, tgi, triton, genai", () => {
    expect(PROFILES.map((profile) => profile.runtime)).toEqual(["vllm", "sglang", "tgi", "triton", "genai"]);
  });

  it.each<{ case: string; span: DecodedSpan; runtime: string | undefined }>([
    { case: "a vLLM span", span: vllmSpan(), runtime: "vllm" },
    { case: "a vLLM span that also has gen_ai.request.model", span: vllmSpan({ attributes: MODEL }), runtime: "vllm" },
    { case: "a TGI span", span: tgiSpan(), runtime: "tgi" },
    { case: "a TGI span that also has gen_ai.request.model", span: tgiSpan({ attributes: MODEL }), runtime: "tgi" },
    { case: "a Triton model span", span: tritonSpan(), runtime: "triton" },
    {
      case: "a Triton model span that also has gen_ai.request.model",
      span: tritonSpan({ attributes: MODEL }),
      runtime: "triton",
    },
    { case: "a GenAI semconv span", span: genaiSpan(), runtime: "genai" },
    {
      case: "a TGI health span",
      span: tgiSpan({ name: "health", attributes: { total_time: undefined, inference_time: undefined } }),
      runtime: undefined,
    },
    { case: "a Triton compute span", span: tritonComputeSpan(), runtime: undefined },
  ])("claims $case as $runtime", ({ span, runtime }) => {
    expect(profileFor(span)?.runtime).toBe(runtime);
  });

  it("converts every fixture span through the profile that claims it", () => {
    const spans = [vllmSpan(), tgiSpan(), tritonSpan(), genaiSpan()];
    const runtimes = spans.map((span) => profileFor(span)?.toLlmSpan(span, new Map())?.runtime);
    expect(runtimes).toEqual(["vllm", "tgi", "triton", "genai"]);
  });
});
