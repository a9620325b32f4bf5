import { z } from "zod";
import { durationMs } from "../config/duration.js";

/** The listeners TLS can be turned on for, by name. */
export const TLS_LISTENERS = ["metrics", "otlp-http", "otlp-grpc", "analyzer"] as const;
export type TlsListener = (typeof TLS_LISTENERS)[number];

/**
 * Listeners that verify client certificates when `clientCaFile` is set (mTLS). The agent's
 * metrics listener is not one of them: it also serves the kubelet's probes, which present no
 * client certificate.
 */
export const CLIENT_CERT_LISTENERS: ReadonlySet<TlsListener> = new Set(["otlp-http", "otlp-grpc", "analyzer"]);

/**
 * TLS for the process's listeners: one certificate and key (PEM files, e.g. a mounted
 * `kubernetes.io/tls` Secret) shared by every listener named in `listeners`, re-read when they change.
 */
export const tlsConfigSchema = z
  .strictObject({
    /** PEM certificate chain; with keyFile, turns TLS on. Empty: plain HTTP. */
    certFile: z.string().default(""),
    /** PEM private key of certFile. */
    keyFile: z.string().default(""),
    /** PEM CA bundle that client certificates must chain to; set, the OTLP receivers and the analyzer API require one (mTLS). */
    clientCaFile: z.string().default(""),
    /** Which listeners serve TLS when a certificate is configured. */
    listeners: z.array(z.enum(TLS_LISTENERS)).default([...TLS_LISTENERS]),
    /** How often the files are checked for a change (a rotated certificate is served without a restart). */
    reloadInterval: durationMs("10s", { min: "50ms", max: "1h" }),
  })
  .refine((tls) => (tls.certFile === "") === (tls.keyFile === ""), {
    error: "certFile and keyFile go together: set both or neither",
    path: ["keyFile"],
  })
  .refine((tls) => tls.clientCaFile === "" || tls.certFile !== "", {
    error: "clientCaFile (mTLS) needs certFile and keyFile",
    path: ["clientCaFile"],
  });

export type TlsConfig = z.infer<typeof tlsConfigSchema>;
