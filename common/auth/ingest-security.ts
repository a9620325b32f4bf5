import type { ListenerTls } from "../tls/server-tls.js";
import type { TokenAuth } from "./token-auth.js";

/** What an OTLP receiver is given to secure ingest: its TLS and the token checks (role `ingest`). */
export interface IngestSecurity {
  readonly tls?: ListenerTls | undefined;
  readonly auth?: TokenAuth | undefined;
}
