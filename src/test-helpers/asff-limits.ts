/**
 * Run-time checks of an ASFF finding against what Security Hub enforces on `BatchImportFindings`,
 * beyond the shape the SDK's `AwsSecurityFinding` type gives the compiler. Each rule names its source:
 * - [required] Security Hub User Guide, "Required top-level ASFF attributes"
 *   https://docs.aws.amazon.com/securityhub/latest/userguide/asff-required-attributes.html
 * - [api] Security Hub API Reference, AwsSecurityFinding, Resource, Severity, Recommendation,
 *   AwsApiCallAction (the length and array constraints; the same text is in the SDK's model comments)
 *   https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_AwsSecurityFinding.html
 * - [timestamps] API Reference, "Timestamps": RFC 3339 section 5.6 date-times, no spaces, at most 9
 *   fractional digits; https://docs.aws.amazon.com/securityhub/1.0/APIReference/Welcome.html#timestamps
 * - [types] User Guide, "Types taxonomy for ASFF": namespace/category/classifier, namespaces listed
 *   https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-findings-format-type-taxonomy.html
 * - [custom] User Guide, custom integrations: `ProductArn` of a custom product is
 *   `arn:aws:securityhub:<region>:<account>:product/<account>/default`.
 */
import type { AwsSecurityFinding } from "@aws-sdk/client-securityhub";

const REQUIRED = [
  "AwsAccountId",
  "CreatedAt",
  "Description",
  "GeneratorId",
  "Id",
  "ProductArn",
  "Resources",
  "SchemaVersion",
  "Severity",
  "Title",
  "Types",
  "UpdatedAt",
] as const;

const NAMESPACES = [
  "Software and Configuration Checks",
  "TTPs",
  "Effects",
  "Unusual Behaviors",
  "Sensitive Data Identifications",
];

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const CUSTOM_PRODUCT_ARN = /^arn:aws(-[a-z]+)*:securityhub:[a-z]{2}(-[a-z]+)+-\d+:(\d{12}):product\/(\d{12})\/default$/;

/**
 * Every way `f` breaks a Security Hub rule, each message naming the attribute and the rule's source;
 * empty when it is fine.
 *
 * @example assert.deepEqual(asffProblems(asffFinding(finding)), []);
 */
export function asffProblems(f: AwsSecurityFinding): string[] {
  const problems: string[] = [];
  const length = (path: string, value: string | undefined, min: number, max: number, source = "api") => {
    if (value === undefined) return;
    if (value.length < min || value.length > max)
      problems.push(`${path}: length ${value.length}, must be ${min}..${max} [${source}]`);
  };
  const time = (path: string, value: string | undefined) => {
    if (value === undefined) return;
    if (!RFC3339.test(value) || Number.isNaN(Date.parse(value)))
      problems.push(`${path}: ${JSON.stringify(value)} is not an RFC 3339 date-time [timestamps]`);
  };
  const record = f as unknown as Record<string, unknown>;
  for (const name of REQUIRED)
    if (record[name] === undefined || record[name] === "") problems.push(`${name}: required [required]`);
  if (f.SchemaVersion !== undefined && f.SchemaVersion !== "2018-10-08")
    problems.push(`SchemaVersion: ${f.SchemaVersion}, must be 2018-10-08 [required]`);
  length("Id", f.Id, 1, 512);
  length("GeneratorId", f.GeneratorId, 1, 512);
  length("ProductArn", f.ProductArn, 12, 2048);
  const arn = CUSTOM_PRODUCT_ARN.exec(f.ProductArn ?? "");
  if (!arn) problems.push(`ProductArn: ${f.ProductArn} is not a custom integration's product ARN [custom]`);
  else if (arn[3] !== arn[4]) problems.push(`ProductArn: two different accounts [custom]`);
  length("ProductName", f.ProductName, 1, 128);
  length("CompanyName", f.CompanyName, 1, 128);
  if (f.AwsAccountId !== undefined && !/^\d{12}$/.test(f.AwsAccountId))
    problems.push(`AwsAccountId: ${f.AwsAccountId} is not 12 digits [api]`);
  length("Title", f.Title, 1, 256);
  length("Description", f.Description, 1, 1024);
  const types = f.Types ?? [];
  if (types.length < 1 || types.length > 50) problems.push(`Types: ${types.length} items, must be 1..50 [api]`);
  for (const [i, type] of types.entries()) {
    const parts = type.split("/");
    if (parts.length > 3 || parts.some((p) => p.trim() === ""))
      problems.push(`Types[${i}]: ${type} is not namespace/category/classifier [types]`);
    if (!NAMESPACES.includes(parts[0] ?? "")) problems.push(`Types[${i}]: unknown namespace ${parts[0]} [types]`);
  }
  for (const name of ["CreatedAt", "UpdatedAt", "FirstObservedAt", "LastObservedAt"] as const) time(name, f[name]);
  if (f.CreatedAt && f.UpdatedAt && Date.parse(f.UpdatedAt) < Date.parse(f.CreatedAt))
    problems.push("UpdatedAt: before CreatedAt [api]");
  const labels = ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"];
  if (f.Severity && !labels.includes(f.Severity.Label ?? ""))
    problems.push(`Severity.Label: ${f.Severity.Label} [api]`);
  length("Severity.Original", f.Severity?.Original, 1, 64);
  const resources = f.Resources ?? [];
  if (resources.length < 1 || resources.length > 32)
    problems.push(`Resources: ${resources.length} items, must be 1..32 [api]`);
  for (const [i, r] of resources.entries()) {
    length(`Resources[${i}].Type`, r.Type, 1, 256);
    length(`Resources[${i}].Id`, r.Id, 1, 512);
    length(`Resources[${i}].Region`, r.Region, 1, 16);
    if (r.Type === undefined || r.Id === undefined) problems.push(`Resources[${i}]: Type and Id required [api]`);
    if (r.Partition !== undefined && !["aws", "aws-cn", "aws-us-gov"].includes(r.Partition))
      problems.push(`Resources[${i}].Partition: ${r.Partition} [api]`);
  }
  const fields = Object.entries(f.ProductFields ?? {});
  if (fields.length > 50) problems.push(`ProductFields: ${fields.length} pairs, at most 50 [api]`);
  for (const [k, v] of fields) {
    length(`ProductFields key ${k}`, k, 1, 128);
    length(`ProductFields[${k}]`, v, 0, 2048);
    if (k.startsWith("aws/")) problems.push(`ProductFields: ${k}: the aws/ prefix is Security Hub's [api]`);
  }
  length("Remediation.Recommendation.Text", f.Remediation?.Recommendation?.Text, 1, 512);
  const call = f.Action?.AwsApiCallAction;
  length("Action.AwsApiCallAction.Api", call?.Api, 1, 128);
  length("Action.AwsApiCallAction.ServiceName", call?.ServiceName, 1, 128);
  time("Action.AwsApiCallAction.FirstSeen", call?.FirstSeen);
  time("Action.AwsApiCallAction.LastSeen", call?.LastSeen);
  if (f.RecordState && !["ACTIVE", "ARCHIVED"].includes(f.RecordState))
    problems.push(`RecordState: ${f.RecordState} [api]`);
  if (f.Workflow?.Status && !["NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED"].includes(f.Workflow.Status))
    problems.push(`Workflow.Status: ${f.Workflow.Status} [api]`);
  return problems;
}
