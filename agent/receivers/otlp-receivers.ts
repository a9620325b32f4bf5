import type { Component } from "../../common/component.js";
import { startOtlpGrpcReceiver } from "./otlp-grpc-receiver.js";
import { startOtlpHttpReceiver } from "./otlp-http-receiver.js";
import type { IngestSecurity } from "../../common/auth/ingest-security.js";
import type { OtlpReceiverOptions, RunningReceiver } from "./otlp-responses.js";

/** Security of each receiver. */
export interface OtlpReceiversSecurity {
  readonly http: IngestSecurity;
  readonly grpc: IngestSecurity;
}

/** Both OTLP receivers as one component; `addresses` are the bound ones once started. */
export interface OtlpReceivers extends Component {
  readonly addresses: { readonly http?: string; readonly grpc?: string };
}

/**
 * The OTLP/HTTP and OTLP/gRPC receivers, started in that order and sharing one admission budget.
 * A failed start leaves the one already listening to shutdown().
 */
export function createOtlpReceivers(options: OtlpReceiverOptions, security: OtlpReceiversSecurity): OtlpReceivers {
  const running: RunningReceiver[] = [];
  const addresses: { http?: string; grpc?: string } = {};
  const addressOf = (receiver: RunningReceiver): string => `${receiver.address.address}:${receiver.address.port}`;
  return {
    name: "otlp",
    addresses,
    async start() {
      if (running.length > 0) return;
      const http = await startOtlpHttpReceiver({ ...options, security: security.http });
      running.push(http);
      addresses.http = addressOf(http);
      const grpc = await startOtlpGrpcReceiver({ ...options, security: security.grpc });
      running.push(grpc);
      addresses.grpc = addressOf(grpc);
    },
    async shutdown() {
      await Promise.allSettled(running.map((receiver) => receiver.close()));
    },
  };
}
