/**
 * AWS Security Hub: findings imported with `BatchImportFindings` in the AWS Security Finding Format
 * (`formats/asff.ts`), up to 100 per call. Security Hub keys a finding by its `Id` and `ProductArn`:
 * importing the same finding again updates it instead of adding a second one, so a re-delivery is
 * harmless; a retracted finding is imported again with `RecordState` `ARCHIVED`.
 */
import { BatchImportFindingsCommand, type SecurityHubClient } from "@aws-sdk/client-securityhub";
import type { Finding } from "../finding.js";
import { type AsffOptions, asffFinding } from "../formats/asff.js";
import { allFailed, type Destination, type SendResult } from "./destination.js";
import { isRetryableSdkError } from "./sns.js";

/** Per-finding import errors that are Security Hub's, not the finding's. */
const RETRYABLE_IMPORT_ERRORS = new Set(["InternalException", "ThrottlingException", "LimitExceededException"]);

export class SecurityHubDestination implements Destination {
  readonly name = "securityhub";
  readonly maxBatch = 100;
  constructor(
    private readonly client: SecurityHubClient,
    private readonly options: AsffOptions = {},
  ) {}

  close(): void {
    this.client.destroy();
  }

  async send(findings: readonly Finding[]): Promise<SendResult> {
    const asff = findings.map((f) => asffFinding(f, this.options));
    const byAsffId = new Map(asff.map((a, i) => [a.Id as string, findings[i] as Finding]));
    try {
      const out = await this.client.send(new BatchImportFindingsCommand({ Findings: asff }));
      const failedIds = new Set<string>();
      const failed = (out.FailedFindings ?? []).flatMap((e) => {
        const f = e.Id ? byAsffId.get(e.Id) : undefined;
        if (!f) return [];
        failedIds.add(f.id);
        return [
          {
            id: f.id,
            retryable: RETRYABLE_IMPORT_ERRORS.has(e.ErrorCode ?? ""),
            message: `${this.name}: ${e.ErrorCode ?? "error"} ${e.ErrorMessage ?? ""}`.trim(),
          },
        ];
      });
      return { delivered: findings.filter((f) => !failedIds.has(f.id)).map((f) => f.id), failed };
    } catch (e) {
      return allFailed(findings, isRetryableSdkError(e), `${this.name}: ${(e as Error).name}: ${(e as Error).message}`);
    }
  }
}
