import { trace, type Tracer } from "@opentelemetry/api";

/** The tracer the agent's components use; a no-op until self-tracing starts (agent/self-tracing.ts). */
export function agentTracer(): Tracer {
  return trace.getTracer("inferwatch-agent");
}
