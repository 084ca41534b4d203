/** What every workload shares: how a call leaves (route), what a thief copies, what attacks need. */

import type { Action, ActionTarget } from "./actions.js";
import type { Rng } from "./prng.js";
import { apiCall, type IssuedKey, type JsonObject, type RoleRef } from "./records.js";
import type { SessionKind } from "./truth.js";
import type { Out, VpcModel } from "./world.js";

/** A route for one call: direct from an address, or through one of the VPC's endpoints. */
export interface Route {
  readonly sourceIp: string;
  readonly region: string;
  readonly vpcEndpointId?: string;
  readonly vpcEndpointAccountId?: string;
}

/** Credentials held by a workload at some moment, as a thief would copy them. */
export interface HeldCredential {
  readonly role: RoleRef;
  readonly sessionName: string;
  readonly key: IssuedKey;
  readonly ec2RoleDelivery?: "1.0" | "2.0";
  readonly ec2IssuedInVPC?: string;
}

/** What attacks need from a workload they steal from. */
export interface Victim {
  readonly kind: SessionKind;
  readonly vpc: VpcModel;
  readonly role: RoleRef;
  readonly sessionName: string;
  readonly privateIp: string;
  credentialAt(t: number, imds?: "1.0" | "2.0"): HeldCredential;
  /** The address its own direct calls come from at time t. */
  addressAt(t: number): string;
  route(rng: Rng, action: Action, t: number): Route;
  target(): ActionTarget;
}

export function endpointRoute(vpc: VpcModel, action: Action, privateIp: string): Route | undefined {
  const vpce = action.endpoint ? vpc.endpoints.get(action.endpoint) : undefined;
  if (!vpce) return undefined;
  return {
    sourceIp: privateIp,
    region: vpc.region,
    vpcEndpointId: vpce,
    ...(vpc.account.endpointAnnouncement === "account-id" ? { vpcEndpointAccountId: vpc.account.id } : {}),
  };
}

/** An S3 read of an SSE-KMS object makes S3 call KMS with the reader's identity, from no address. */
export function kmsOnBehalf(
  rng: Rng,
  out: Out,
  t: number,
  vpc: VpcModel,
  identity: (invokedBy: string) => JsonObject,
): void {
  const via = rng.chance(0.5) ? "s3.amazonaws.com" : "AWS Internal";
  out.emit(
    vpc.account.id,
    vpc.region,
    apiCall(rng, {
      time: t,
      account: vpc.account.id,
      region: vpc.region,
      identity: identity(via),
      source: "kms.amazonaws.com",
      name: "Decrypt",
      sourceIp: via,
      userAgent: via,
      requestParameters: {
        encryptionAlgorithm: "SYMMETRIC_DEFAULT",
        encryptionContext: { "aws:s3:arn": `arn:aws:s3:::${vpc.bucket}` },
      },
      resources: [{ accountId: vpc.account.id, type: "AWS::KMS::Key", ARN: vpc.kmsKeyArn }],
      readOnly: true,
      tls: false,
    }),
  );
}
