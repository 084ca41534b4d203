/** The people, pipelines and AWS services of one account: their calendar of sessions and runs. */

import { ACTIONS, type ActionTarget } from "./actions.js";
import type { Rng } from "./prng.js";
import {
  accessKeyId,
  apiCall,
  awsServiceIdentity,
  type IamUserRef,
  type IssuedKey,
  iamUserIdentity,
  isoSeconds,
  type JsonObject,
  roleSessionIdentity,
  serviceAssumeRole,
  userAssumeRole,
} from "./records.js";
import { FLEET_SCHEMA, type FleetSession } from "./truth.js";
import * as ua from "./user-agents.js";
import {
  type AccountModel,
  type Actor,
  HOUR,
  MINUTE,
  type Out,
  SECOND,
  type SimWorld,
  secondIn,
  type VpcModel,
} from "./world.js";

/**
 * The people and pipelines of one account: operators with the CLI on their laptops, an admin in
 * the console, a CI pipeline assuming its deploy role, and AWS services (CloudTrail, Config, KMS)
 * working on the account's behalf. Also creates the VPC endpoints its account announces that way.
 */
export class AccountActivity implements Actor {
  private readonly ciSessions: { key: string; region: string }[] = [];
  private nextCiRun: number;
  private nextConsole: number;
  private nextConfigIssue: number;
  private configKey: IssuedKey | undefined;
  private readonly configSession = "AWSConfig-Describe";
  /** Records of sessions begun in an earlier window, held until their own window. */
  private queue: { at: number; region: string; record: JsonObject }[] = [];

  constructor(
    rng: Rng,
    readonly world: SimWorld,
    readonly account: AccountModel,
  ) {
    this.nextCiRun = world.start + rng.between(10, 90) * MINUTE;
    this.nextConsole = world.start + rng.between(20, 120) * MINUTE;
    this.nextConfigIssue = world.start + rng.between(1, 30) * SECOND;
  }

  private vpc(r: number): VpcModel {
    return this.world.vpcs[this.account.index]?.[r] as VpcModel;
  }

  step(ws: number, we: number, rng: Rng, out: Out): void {
    const a = this.account;
    if (ws === this.world.start && a.endpointAnnouncement === "created") this.createEndpoints(rng, out);
    // Operators: a slow trickle of read calls from the office.
    for (const user of a.ops) {
      const n = rng.poisson((4 * (we - ws)) / HOUR);
      for (let i = 0; i < n; i++) {
        const t = secondIn(rng, ws, we);
        const region = rng.pick(this.world.regions);
        const action = rng.pick([
          ACTIONS.ec2DescribeInstances,
          ACTIONS.ec2DescribeSecurityGroups,
          ACTIONS.iamListRoles,
          ACTIONS.stsGetCallerIdentity,
        ]);
        const actionRegion = action.source === "iam.amazonaws.com" ? "us-east-1" : region;
        out.emit(
          a.id,
          actionRegion,
          apiCall(rng, {
            time: t,
            account: a.id,
            region: actionRegion,
            identity: iamUserIdentity(user),
            source: action.source,
            name: action.name,
            sourceIp: user.ip,
            userAgent: ua.laptopCliAgent(rng),
            ...action.build(rng, this.target(region)),
            readOnly: action.readOnly,
            category: action.category,
          }),
        );
      }
    }
    while (this.nextConsole < we) {
      this.consoleSession(rng, out, this.nextConsole);
      this.nextConsole += rng.between(150, 300) * MINUTE;
    }
    while (this.nextCiRun < we) {
      this.ciRun(rng, out, this.nextCiRun);
      this.nextCiRun += rng.between(90, 150) * MINUTE;
    }
    this.services(rng, out, ws, we);
    const due = this.queue.filter((q) => q.at < we);
    this.queue = this.queue.filter((q) => q.at >= we);
    for (const q of due) out.emit(a.id, q.region, q.record);
  }

  private later(at: number, region: string, record: JsonObject): void {
    if (at < this.world.end) this.queue.push({ at, region, record });
  }

  private target(region: string): ActionTarget {
    const r = Math.max(0, this.world.regions.indexOf(region));
    const vpc = this.vpc(r);
    return { accountId: this.account.id, region, bucket: vpc.bucket, kmsKeyArn: vpc.kmsKeyArn, appName: "ops" };
  }

  private createEndpoints(rng: Rng, out: Out): void {
    const a = this.account;
    const user = a.ops[0] as IamUserRef & { ip: string };
    this.world.regions.forEach((region, r) => {
      const vpc = this.vpc(r);
      let t = this.world.start + rng.between(2, 10) * SECOND;
      for (const [service, vpce] of vpc.endpoints) {
        t += rng.between(1, 3) * SECOND;
        const type = service === "s3" ? "Gateway" : "Interface";
        out.emit(
          a.id,
          region,
          apiCall(rng, {
            time: t,
            account: a.id,
            region,
            identity: iamUserIdentity(user),
            source: "ec2.amazonaws.com",
            name: "CreateVpcEndpoint",
            sourceIp: user.ip,
            userAgent: ua.laptopCliAgent(rng),
            requestParameters: {
              CreateVpcEndpointRequest: {
                VpcId: vpc.vpcId,
                ServiceName: `com.amazonaws.${region}.${service}`,
                VpcEndpointType: type,
              },
            },
            responseElements: {
              vpcEndpoint: {
                vpcEndpointId: vpce,
                vpcEndpointType: type,
                vpcId: vpc.vpcId,
                serviceName: `com.amazonaws.${region}.${service}`,
                state: type === "Gateway" ? "available" : "pending",
                ownerId: a.id,
              },
            },
            readOnly: false,
          }),
        );
      }
    });
  }

  private consoleSession(rng: Rng, out: Out, at: number): void {
    const a = this.account;
    const user = a.consoleUser;
    if (at >= this.world.end) return;
    out.emit(
      a.id,
      "us-east-1",
      apiCall(rng, {
        time: at,
        account: a.id,
        region: "us-east-1",
        identity: { type: "IAMUser", principalId: user.userId, arn: user.arn, accountId: a.id, userName: user.name },
        source: "signin.amazonaws.com",
        name: "ConsoleLogin",
        sourceIp: user.ip,
        userAgent: ua.browserAgent(rng),
        requestParameters: null,
        responseElements: { ConsoleLogin: "Success" },
        additionalEventData: {
          LoginTo: "https://console.aws.amazon.com/console/home",
          MobileVersion: "No",
          MFAUsed: "Yes",
        },
        readOnly: false,
        eventType: "AwsConsoleSignIn",
        tls: false,
      }),
    );
    const key = accessKeyId(rng);
    const browser = ua.browserAgent(rng);
    const calls = rng.between(5, 25);
    for (let i = 0; i < calls; i++) {
      const t = at + rng.between(10, 45 * 60) * SECOND;
      const region = rng.pick(this.world.regions);
      const action = rng.pick([
        ACTIONS.ec2DescribeInstances,
        ACTIONS.ec2DescribeSecurityGroups,
        ACTIONS.ssmGetParameter,
      ]);
      this.later(
        t,
        region,
        apiCall(rng, {
          time: t,
          account: a.id,
          region,
          identity: iamUserIdentity(user, key, true),
          source: action.source,
          name: action.name,
          sourceIp: user.ip,
          userAgent: rng.chance(0.5) ? browser : "console.ec2.amazonaws.com",
          ...action.build(rng, this.target(region)),
          readOnly: action.readOnly,
          sessionCredentialFromConsole: true,
        }),
      );
    }
  }

  private ciRun(rng: Rng, out: Out, at: number): void {
    const a = this.account;
    if (at >= this.world.end - 20 * MINUTE) return;
    const runner = this.world.addresses.officeIp();
    const region = rng.pick(this.world.regions);
    const key = accessKeyId(rng);
    const sessionName = `ci-deploy-${rng.between(1000, 9999)}`;
    out.emit(
      a.id,
      region,
      userAssumeRole(rng, {
        time: at,
        region,
        caller: iamUserIdentity(a.ciUser),
        sourceIp: runner,
        userAgent: ua.ciAgent(),
        role: a.roles.deploy,
        sessionName,
        key,
      }),
    );
    this.ciSessions.push({ key, region });
    const creationDate = isoSeconds(at);
    const calls = rng.between(4, 15);
    for (let i = 0; i < calls; i++) {
      const t = at + rng.between(5, 15 * 60) * SECOND;
      const action = rng.pick([
        ACTIONS.s3PutObject,
        ACTIONS.s3GetObject,
        ACTIONS.ec2DescribeInstances,
        ACTIONS.ssmGetParameter,
      ]);
      this.later(
        t,
        region,
        apiCall(rng, {
          time: t,
          account: a.id,
          region,
          identity: roleSessionIdentity(a.roles.deploy, sessionName, key, creationDate),
          source: action.source,
          name: action.name,
          sourceIp: runner,
          userAgent: ua.ciAgent(),
          ...action.build(rng, this.target(region)),
          readOnly: action.readOnly,
          category: action.category,
        }),
      );
    }
  }

  /** CloudTrail writing its own files, and AWS Config describing resources through its service role. */
  private services(rng: Rng, out: Out, ws: number, we: number): void {
    const a = this.account;
    this.world.regions.forEach((region, r) => {
      const vpc = this.vpc(r);
      const t = secondIn(rng, ws, we);
      out.emit(
        a.id,
        region,
        apiCall(rng, {
          time: t,
          account: a.id,
          region,
          identity: awsServiceIdentity("cloudtrail.amazonaws.com"),
          source: "kms.amazonaws.com",
          name: "GenerateDataKey",
          sourceIp: "cloudtrail.amazonaws.com",
          userAgent: "cloudtrail.amazonaws.com",
          requestParameters: { keyId: vpc.kmsKeyArn, keySpec: "AES_256" },
          resources: [{ accountId: a.id, type: "AWS::KMS::Key", ARN: vpc.kmsKeyArn }],
          readOnly: true,
          sharedEventID: rng.uuid(),
          tls: false,
        }),
      );
    });
    const home = this.world.regions[0] ?? "us-east-1";
    while (this.nextConfigIssue < we) {
      const at = this.nextConfigIssue;
      this.configKey = { accessKeyId: accessKeyId(rng), creationDate: isoSeconds(at) };
      out.emit(
        a.id,
        home,
        serviceAssumeRole(rng, {
          time: at,
          region: home,
          role: a.roles.config,
          sessionName: this.configSession,
          service: "config.amazonaws.com",
          key: this.configKey.accessKeyId,
          lifetimeMs: HOUR,
        }),
      );
      this.nextConfigIssue = at + HOUR;
    }
    const key = this.configKey;
    if (!key) return;
    const n = rng.poisson(3);
    for (let i = 0; i < n; i++) {
      const t = secondIn(rng, Math.max(ws, Date.parse(key.creationDate) + SECOND), we);
      const region = rng.pick(this.world.regions);
      const action = rng.pick([
        ACTIONS.ec2DescribeInstances,
        ACTIONS.ec2DescribeSecurityGroups,
        ACTIONS.ec2DescribeNetworkInterfaces,
      ]);
      out.emit(
        a.id,
        region,
        apiCall(rng, {
          time: t,
          account: a.id,
          region,
          identity: roleSessionIdentity(a.roles.config, this.configSession, key.accessKeyId, key.creationDate, {
            invokedBy: "config.amazonaws.com",
          }),
          source: action.source,
          name: action.name,
          sourceIp: "config.amazonaws.com",
          userAgent: "config.amazonaws.com",
          ...action.build(rng, this.target(region)),
          readOnly: true,
          tls: false,
        }),
      );
    }
  }

  fleetLines(): FleetSession[] {
    return this.ciSessions.map((s) => ({
      schema: FLEET_SCHEMA,
      key: s.key,
      matchBy: "accessKeyId",
      kind: "assumed-role",
      account: this.account.id,
      region: s.region,
      traits: ["ci-deploy"],
    }));
  }
}
