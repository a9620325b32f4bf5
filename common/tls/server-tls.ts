/**
 * Server-side TLS for every listener, from one certificate and key (and an optional client CA for
 * mTLS), re-read when the files change so a rotated certificate (cert-manager, a renewed Secret) is
 * served without a restart:
 * - HTTPS listeners get `server.setSecureContext()` with the new material; connections already open
 *   keep the context they were made with, new handshakes get the new one.
 * - The gRPC listener gets a ServerCredentials whose secure-context options are replaced; grpc-js
 *   watches its credentials and calls setSecureContext on its HTTP/2 server (server.js,
 *   createHttp2Server). This is the supported reload path of grpc-js 1.10+ (the one its
 *   certificate-provider credentials use), without the experimental provider API.
 * A change that does not parse (a key written before its certificate) is logged and the previous
 * material stays in use; the next change is tried again.
 */
import { ServerCredentials } from "@grpc/grpc-js";
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { ServerOptions as HttpsServerOptions } from "node:https";
import { createSecureContext, type SecureContextOptions, type Server as TlsServer } from "node:tls";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { FileWatcher } from "./file-watcher.js";
import { CLIENT_CERT_LISTENERS, type TlsConfig, type TlsListener } from "./tls-config.js";

/** PEM material as read from the files. */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Client CA bundle; present when mTLS is configured. */
  readonly ca: Buffer | undefined;
}

/**
 * How a listener treats client certificates: `none`; `require` (the handshake fails without a valid
 * one: the OTLP receivers); `per-request` (asked for and verified, but the HTTP layer decides per
 * path, so the analyzer's /healthz and /readyz stay open to the kubelet's probes).
 */
export type ClientCertMode = "none" | "require" | "per-request";

/** The oldest protocol accepted (TLS 1.0 and 1.1 are deprecated by RFC 8996). */
const MIN_VERSION = "TLSv1.2";

async function readMaterial(config: TlsConfig): Promise<TlsMaterial> {
  const read = async (what: string, path: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new Error(`tls: cannot read ${what} ${path}: ${errorMessage(err)}`, { cause: err });
    }
  };
  const material: TlsMaterial = {
    cert: await read("certificate", config.certFile),
    key: await read("key", config.keyFile),
    ca: config.clientCaFile === "" ? undefined : await read("client CA", config.clientCaFile),
  };
  try {
    // X509Certificate reads the first certificate of a bundle; OpenSSL would skip a file without one.
    if (material.ca) new X509Certificate(material.ca);
  } catch (err) {
    throw new Error(`tls: client CA ${config.clientCaFile} holds no PEM certificate: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  try {
    // Fails on a malformed PEM or a key that does not match the certificate.
    createSecureContext(contextOptions(material));
  } catch (err) {
    throw new Error(
      `tls: ${config.certFile} / ${config.keyFile}${material.ca ? ` / ${config.clientCaFile}` : ""}: ${errorMessage(err)}`,
      { cause: err },
    );
  }
  return material;
}

function contextOptions(material: TlsMaterial): SecureContextOptions {
  return {
    cert: material.cert,
    key: material.key,
    minVersion: MIN_VERSION,
    ...(material.ca ? { ca: material.ca } : {}),
  };
}

/** What one listener is given: its TLS options, and a way to follow reloads. */
export interface ListenerTls {
  readonly listener: TlsListener;
  readonly clientCert: ClientCertMode;
  /** Options for https.createServer (current material). */
  httpsOptions(): HttpsServerOptions;
  /** Keeps `server` on the current material; returns a function that stops following. */
  follow(server: TlsServer): () => void;
  /** Credentials for a grpc-js Server, replaced in place on reload. */
  grpcCredentials(): ServerCredentials;
}

/** gRPC server credentials whose secure context is swapped on reload. */
class ReloadingGrpcCredentials extends ServerCredentials {
  constructor(requireClientCert: boolean, initial: SecureContextOptions) {
    super({ requestCert: requireClientCert, rejectUnauthorized: requireClientCert, minVersion: MIN_VERSION }, initial);
  }

  replace(options: SecureContextOptions): void {
    this.updateSecureContextOptions(options);
  }

  override _equals(other: ServerCredentials): boolean {
    return this === other;
  }
}

/**
 * The process's TLS material, polled every `reloadInterval`. Build it with {@link ServerTlsSource.load}
 * (which fails with a clear message when a file is missing or does not parse), then hand
 * `forListener(name)` to each listener.
 */
export class ServerTlsSource {
  private material: TlsMaterial;
  private readonly followers = new Set<(material: TlsMaterial) => void>();
  private readonly watcher: FileWatcher;
  /** Reloads applied since start (tests and logs). */
  reloads = 0;

  private constructor(
    private readonly config: TlsConfig,
    initial: TlsMaterial,
    private readonly log: Logger,
  ) {
    this.material = initial;
    const files = [config.certFile, config.keyFile, ...(config.clientCaFile === "" ? [] : [config.clientCaFile])];
    this.watcher = new FileWatcher(files, config.reloadInterval, () => this.reload(), log);
  }

  /** Reads and checks the files and starts watching them; undefined when no certificate is configured. */
  static async load(config: TlsConfig, log: Logger): Promise<ServerTlsSource | undefined> {
    if (config.certFile === "") return undefined;
    const source = new ServerTlsSource(config, await readMaterial(config), log);
    await source.watcher.start();
    log.info({ cert: config.certFile, mtls: config.clientCaFile !== "", listeners: config.listeners }, "tls on");
    return source;
  }

  /** The listener's TLS, or undefined when TLS is not turned on for it. */
  forListener(listener: TlsListener): ListenerTls | undefined {
    if (!this.config.listeners.includes(listener)) return undefined;
    const hasCa = this.config.clientCaFile !== "";
    const clientCert: ClientCertMode =
      !hasCa || !CLIENT_CERT_LISTENERS.has(listener) ? "none" : listener === "analyzer" ? "per-request" : "require";
    return {
      listener,
      clientCert,
      httpsOptions: () => ({
        ...contextOptions(this.material),
        ...(clientCert === "none" ? {} : { requestCert: true, rejectUnauthorized: clientCert === "require" }),
      }),
      follow: (server) => this.subscribe((material) => server.setSecureContext(contextOptions(material))),
      grpcCredentials: () => {
        const credentials = new ReloadingGrpcCredentials(clientCert !== "none", contextOptions(this.material));
        this.subscribe((material) => credentials.replace(contextOptions(material)));
        return credentials;
      },
    };
  }

  /** Checks the files now (the poll does this every reloadInterval). */
  checkNow(): Promise<void> {
    return this.watcher.poll();
  }

  /** Stops watching; idempotent. */
  stop(): void {
    this.watcher.stop();
    this.followers.clear();
  }

  private subscribe(follower: (material: TlsMaterial) => void): () => void {
    this.followers.add(follower);
    return () => this.followers.delete(follower);
  }

  private async reload(): Promise<void> {
    const material = await readMaterial(this.config);
    this.material = material;
    for (const follower of this.followers) follower(material);
    this.reloads += 1;
    this.log.info({ cert: this.config.certFile }, "tls certificate reloaded");
  }
}
