import { describe, expect, it } from "vitest";
import {
  COMMON_RESOURCE_ATTRIBUTES,
  PROFILES,
  allowedResourceAttributes,
  allowedSpanAttributes,
} from "../../../agent/profiles/span-profiles.js";
import {
  genaiRawSpan,
  genaiSpan,
  runtimeResource,
  decodedResource,
  tgiRawSpan,
  tgiSpan,
} from "../../fixtures/spans.js";

/** Keys known to carry prompt or completion text, request parameters or user identity. */
const DENIED_KEYS = [
  "gen_ai.prompt",
  "gen_ai.completion",
  "gen_ai.input.messages",
  "gen_ai.output.messages",
  "gen_ai.system_instructions",
  "gen_ai.tool.definitions",
  "llm.prompts",
  "llm.input_messages",
  "llm.output_messages",
  "input.value",
  "output.value",
  "user.id",
  "enduser.id",
  "session.id",
  "parameters", // TGI: Debug of the request's GenerateParameters
];

/** Prefixes under which no key may ever be decoded. */
const DENIED_PREFIXES = [
  "gen_ai.prompt",
  "gen_ai.completion",
  "gen_ai.input.",
  "gen_ai.output.",
  "llm.",
  "input.",
  "output.",
  "user.",
  "enduser.",
];

describe("attribute allow-list", () => {
  const spanKeys = allowedSpanAttributes();
  const resourceKeys = allowedResourceAttributes();

  it.each(DENIED_KEYS)("never decodes %s", (key) => {
    expect(spanKeys.has(key)).toBe(false);
    expect(resourceKeys.has(key)).toBe(false);
  });

  it("allows no key under a prompt, completion or user prefix", () => {
    const offending = [...spanKeys, ...resourceKeys].filter((key) =>
      DENIED_PREFIXES.some((prefix) => key.startsWith(prefix)),
    );
    expect(offending).toEqual([]);
  });

  it("is exactly the union of what the profiles read", () => {
    expect([...spanKeys].sort()).toEqual([...new Set(PROFILES.flatMap((profile) => profile.spanAttributes))].sort());
    expect([...resourceKeys].sort()).toEqual([...COMMON_RESOURCE_ATTRIBUTES].sort());
  });

  it("keeps the keys each runtime's timings need", () => {
    for (const key of [
      "gen_ai.latency.e2e",
      "queue_time",
      "total_time",
      "triton.model_name",
      "gen_ai.usage.input_tokens",
    ]) {
      expect(spanKeys.has(key)).toBe(true);
    }
  });

  it("drops TGI's parameters and seed while decoding", () => {
    expect(Object.keys(tgiRawSpan().attributes)).toContain("parameters");
    expect([...tgiSpan().attributes.keys()].sort()).toEqual([
      "inference_time",
      "queue_time",
      "time_per_token",
      "total_time",
    ]);
  });

  it("drops GenAI message content while decoding", () => {
    expect(Object.keys(genaiRawSpan().attributes)).toContain("gen_ai.input.messages");
    const decoded = genaiSpan().attributes;
    expect(decoded.has("gen_ai.input.messages")).toBe(false);
    expect(decoded.has("gen_ai.output.messages")).toBe(false);
  });

  it("drops user and process ids from resources while decoding", () => {
    expect(runtimeResource("genai")).toHaveProperty(["user.id"]);
    expect(decodedResource("genai").has("user.id")).toBe(false);
    expect(decodedResource("vllm").has("vllm.process_id")).toBe(false);
    expect(decodedResource("vllm").get("k8s.pod.name")).toBe("llama-8b-vllm-7c9d8f6b5-x2kqp");
  });
});
