/**
 * Certificates for the TLS suites, made with the openssl CLI in a temp directory: a CA, server
 * certificates for 127.0.0.1 / localhost signed by it (two, for rotation), a client certificate
 * signed by it, and a client certificate from an unrelated CA.
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A key and certificate pair on disk. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

/** Every file of the test PKI. */
export interface TestPki {
  readonly dir: string;
  readonly ca: CertFiles;
  readonly server: CertFiles;
  readonly rotated: CertFiles;
  readonly client: CertFiles;
  /** Signed by another CA: must be refused where mTLS is on. */
  readonly strangerClient: CertFiles;
  /** Where the listeners read their certificate (a copy of `server` until a test rotates it). */
  readonly live: CertFiles;
  cleanup(): void;
}

function openssl(args: readonly string[], dir: string): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

function makeCa(dir: string, name: string): CertFiles {
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
      "-keyout",
      files.key,
      "-out",
      files.cert,
    ],
    dir,
  );
  return files;
}

function makeLeaf(dir: string, name: string, ca: CertFiles, extensions: string): CertFiles {
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  openssl(
    [
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-subj",
      `/CN=${name}`,
      "-keyout",
      files.key,
      "-out",
      csr,
    ],
    dir,
  );
  openssl(
    [
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      ca.cert,
      "-CAkey",
      ca.key,
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      ext,
      "-out",
      files.cert,
    ],
    dir,
  );
  return files;
}

const SERVER_EXT = "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n";
const CLIENT_EXT = "extendedKeyUsage=clientAuth\n";

/** Creates the PKI; call cleanup() when done. */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "inferwatch-pki-"));
  const ca = makeCa(dir, "test-ca");
  const stranger = makeCa(dir, "stranger-ca");
  const server = makeLeaf(dir, "server-1", ca, SERVER_EXT);
  const rotated = makeLeaf(dir, "server-2", ca, SERVER_EXT);
  const client = makeLeaf(dir, "client-alice", ca, CLIENT_EXT);
  const strangerClient = makeLeaf(dir, "client-mallory", stranger, CLIENT_EXT);
  const live = { cert: join(dir, "live.crt"), key: join(dir, "live.key") };
  writeFileSync(live.cert, readFileSync(server.cert));
  writeFileSync(live.key, readFileSync(server.key));
  return {
    dir,
    ca,
    server,
    rotated,
    client,
    strangerClient,
    live,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Puts `next` where the listeners read their certificate (key first, as a careless rotation would). */
export function rotate(pki: TestPki, next: CertFiles): void {
  writeFileSync(pki.live.key, readFileSync(next.key));
  writeFileSync(pki.live.cert, readFileSync(next.cert));
}

/** The SHA-256 fingerprint of a certificate file, as tls.PeerCertificate.fingerprint256 writes it. */
export function fingerprint(certFile: string): string {
  return new X509Certificate(readFileSync(certFile)).fingerprint256;
}
