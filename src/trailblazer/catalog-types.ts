/**
 * The shape of the Trailblazer catalog: every AWS service and operation the SDK models know,
 * reduced to what is needed to build one minimal, well-formed request per operation.
 *
 * The catalog keeps only the *required* input members (recursively): Trailblazer sends exactly
 * those, with placeholder values, because AWS tends not to log a request it cannot parse.
 */

/** The wire protocols the AWS models use. */
export type Protocol = "query" | "ec2" | "json" | "rest-json" | "rest-xml";

export const PROTOCOLS: readonly Protocol[] = ["query", "ec2", "json", "rest-json", "rest-xml"];

export type ScalarType = "string" | "integer" | "long" | "float" | "double" | "boolean" | "timestamp" | "blob";
export type ShapeType = ScalarType | "structure" | "list" | "map";

/** Where a member of a REST input goes on the wire. Absent means "in the body". */
export type MemberLocation = "uri" | "querystring" | "header" | "headers";

/**
 * One input shape, with member traits folded in. Only required members of structures are kept
 * (plus, for unions, the first alternative, because a union must have exactly one).
 */
export interface CatalogShape {
  readonly type: ShapeType;
  /** Wire name: query key, XML element, header name, URI label or JSON key when it differs. */
  readonly name?: string;
  /** EC2 protocol only: explicit query key. */
  readonly queryName?: string;
  readonly location?: MemberLocation;
  readonly flattened?: boolean;
  readonly xmlNamespace?: string;
  readonly xmlAttribute?: boolean;
  readonly timestampFormat?: "iso8601" | "unixTimestamp" | "rfc822";
  /** A string carrying JSON (sent base64-encoded in headers). */
  readonly jsonValue?: boolean;
  /** A free-form JSON document. */
  readonly document?: boolean;
  /** A blob sent as the raw request body. */
  readonly streaming?: boolean;
  readonly idempotencyToken?: boolean;
  /** This member fills a `{label}` in the operation's host prefix. */
  readonly hostLabel?: boolean;
  readonly union?: boolean;
  /** Set when a required-member cycle was cut here. */
  readonly recursive?: boolean;
  /** Structure members (required ones only), in model order. */
  readonly members?: Readonly<Record<string, CatalogShape>>;
  /** Required member names of this structure, as the model lists them. */
  readonly required?: readonly string[];
  /** For structures: the member sent as the whole body (REST protocols). */
  readonly payload?: string;
  readonly member?: CatalogShape;
  readonly key?: CatalogShape;
  readonly value?: CatalogShape;
}

export interface CatalogOperation {
  readonly name: string;
  readonly method: string;
  /** Request URI template from the model, e.g. `/{Bucket}/{Key+}?tagging`. */
  readonly path: string;
  /** Top-level required input members. */
  readonly required: readonly string[];
  /** Guess from the name and HTTP method; CloudTrail's own `readOnly` is the authority. */
  readonly looksReadOnly: boolean;
  /** The input shape (required members only); absent when the operation takes no input. */
  readonly input?: CatalogShape;
  /** e.g. `data.` or `{AccountId}.`: prepended to the endpoint host. */
  readonly hostPrefix?: string;
  /** The operation requires a body checksum (Content-MD5). */
  readonly checksumRequired?: boolean;
  /** Authentication override from the model: `none` or `v4-unsigned-body`. */
  readonly authType?: string;
  readonly deprecated?: boolean;
}

export interface CatalogService {
  /** The model file prefix, e.g. `ec2`, `rds-data`: what `--services` takes. */
  readonly id: string;
  /** The model file the entry came from, e.g. `ec2-2016-11-15`. */
  readonly model: string;
  readonly serviceId: string;
  readonly fullName: string;
  readonly apiVersion: string;
  readonly protocol: Protocol;
  /** Every protocol the model lists (newer models name more than one). */
  readonly protocols: readonly string[];
  readonly endpointPrefix: string;
  readonly signingName: string;
  readonly signatureVersion: string;
  readonly targetPrefix?: string;
  readonly jsonVersion?: string;
  readonly xmlNamespace?: string;
  /**
   * Set for services with one global endpoint: requests go there and are signed for `region`,
   * and CloudTrail logs them in that home region.
   */
  readonly global?: { readonly region: string; readonly host: string };
  readonly operations: Readonly<Record<string, CatalogOperation>>;
}

export interface CatalogCounts {
  readonly services: number;
  readonly operations: number;
  readonly byProtocol: Readonly<Record<string, number>>;
  readonly servicesByProtocol: Readonly<Record<string, number>>;
  readonly looksReadOnly: number;
  readonly globalServices: number;
  /** Older API versions of a service that the models still ship and the catalog leaves out. */
  readonly supersededModels: readonly string[];
}

export const CATALOG_SCHEMA = "firstcall.trailblazer.catalog";
export const CATALOG_VERSION = 1;

export interface Catalog {
  readonly schema: typeof CATALOG_SCHEMA;
  readonly version: typeof CATALOG_VERSION;
  readonly source: { readonly package: string; readonly version: string; readonly models: string };
  readonly counts: CatalogCounts;
  readonly services: Readonly<Record<string, CatalogService>>;
}
