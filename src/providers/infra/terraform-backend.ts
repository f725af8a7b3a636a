/**
 * Where Terraform/OpenTofu keeps a deployment's state when every worker must reach it: a backend
 * block in the generated root module, each deployment in its own workspace.
 */
export interface TerraformBackend {
  /** The backend type, e.g. `pg` or `s3`; it must support workspaces. */
  type: string;
  /** Its settings without secrets: written into the root module (`main.tf.json`). */
  config: Record<string, string | number | boolean>;
  /** Variables the binary gets (credentials such as `PG_CONN_STR`): never written to a file, never logged. */
  env: Record<string, string>;
}

/** The schema of the CMDB's database that holds greenlight's Terraform state. */
export const STATE_SCHEMA = 'greenlight_terraform';

/**
 * State in PostgreSQL (the `pg` backend, built into OpenTofu and Terraform), reached with `url`
 * through `PG_CONN_STR`. Without an `sslmode` in the URL the backend's driver would insist on TLS,
 * while the CMDB's own client connects without it: `sslmode=disable` makes both reach the server
 * the same way; a URL that names an `sslmode` keeps it.
 */
export function postgresStateBackend(url: string): TerraformBackend {
  return { type: 'pg', config: { schema_name: STATE_SCHEMA }, env: { PG_CONN_STR: withSslMode(url) } };
}

function withSslMode(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url; // a key=value connection string: passed as it is
  }
  if (parsed.searchParams.has('sslmode') || parsed.searchParams.has('ssl')) return url;
  parsed.searchParams.set('sslmode', 'disable');
  return parsed.toString();
}

/**
 * Replaces every secret of the backend's environment in `text` (and a URL's password on its own,
 * plain or percent-encoded) with `***`, so no output line or error message carries one.
 */
export function secretRedactor(backend: TerraformBackend | undefined): (text: string) => string {
  const secrets = new Set<string>();
  for (const value of Object.values(backend?.env ?? {})) {
    secrets.add(value);
    const password = passwordOf(value);
    if (password) {
      secrets.add(password);
      secrets.add(decoded(password));
    }
  }
  // Longest first, so a secret that contains another is replaced whole.
  const ordered = [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  return (text) => ordered.reduce((redacted, secret) => redacted.split(secret).join('***'), text);
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function passwordOf(value: string): string | undefined {
  try {
    return new URL(value).password || undefined;
  } catch {
    return undefined;
  }
}
