/**
 * User agents, written the way the real clients write them. The benign fleet only uses agents that
 * server software sends (Linux SDKs and CLIs, the SSM agent, EKS tooling); the thieves' agents are
 * chosen per attack so that the truth file can say which rules should see them.
 */
import type { Rng } from "./prng.js";

const KERNELS = ["5.10.219-208.866.amzn2.x86_64", "6.1.94-99.176.amzn2023.x86_64", "5.15.0-1063-aws", "6.8.0-1009-aws"];

export function ssmAgent(rng: Rng): string {
  const v = rng.pick(["3.3.380.0", "3.3.418.0", "3.2.2303.0"]);
  return `aws-sdk-go/1.44.260 (go1.21.8; linux; amd64) amazon-ssm-agent/${v}`;
}

/** Agents of the applications running on instances: SDKs on Linux and the CLI from cron jobs. */
export function instanceAppAgent(rng: Rng): string {
  const kernel = rng.pick(KERNELS);
  return rng.weighted<string>([
    [
      `aws-sdk-java/1.12.701 Linux/${kernel} OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS java/17.0.11 vendor/Amazon.com_Inc. cfg/retry-mode/standard`,
      3,
    ],
    [
      `aws-sdk-java/2.25.40 Linux/${kernel} OpenJDK_64-Bit_Server_VM/21.0.3+9-LTS Java/21.0.3 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy`,
      2,
    ],
    [
      `Boto3/1.34.106 md/Botocore#1.34.106 ua/2.0 os/linux#${kernel} md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.106`,
      3,
    ],
    [`aws-cli/2.15.58 Python/3.11.8 Linux/${kernel} exec-env/EC2 exe/x86_64.amzn.2023 prompt/off command/s3.cp`, 1],
    [`aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.3 md/GOOS#linux md/GOARCH#amd64 api/s3#1.54.3`, 2],
    [`aws-sdk-nodejs/2.1620.0 linux/v20.13.1 exec-env/AWS_EC2 promise`, 1],
  ]);
}

export function eksNodeAgent(): string {
  return "aws-iam-authenticator/0.6.20 (linux; amd64)";
}

export function eksCniAgent(): string {
  return "aws-sdk-go/1.51.32 (go1.21.9; linux; amd64) amazon-vpc-cni-k8s/v1.18.1";
}

export function ecsTaskAgent(rng: Rng): string {
  return rng.pick([
    "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.3 md/GOOS#linux md/GOARCH#amd64 exec-env/AWS_ECS_FARGATE api/sqs#1.32.1",
    "Boto3/1.34.106 md/Botocore#1.34.106 ua/2.0 os/linux#5.10.216-204.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython exec-env/AWS_ECS_FARGATE Botocore/1.34.106",
    "aws-sdk-java/2.25.40 Linux/5.10.216-204.855.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS Java/17.0.11 vendor/Amazon.com_Inc. exec-env/AWS_ECS_EC2 io/sync http/Apache",
  ]);
}

export function lambdaAgent(rng: Rng): string {
  return rng.pick([
    "Boto3/1.34.42 md/Botocore#1.34.42 ua/2.0 os/linux#5.10.216-225.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.42",
    "aws-sdk-js/3.556.0 ua/2.0 os/linux#5.10.216-225.855.amzn2.x86_64 lang/js md/nodejs#20.12.2 api/dynamodb#3.556.0 exec-env/AWS_Lambda_nodejs20.x",
  ]);
}

/** IAM users at their desks: the CLI on macOS, the console in a browser. */
export function laptopCliAgent(rng: Rng): string {
  return rng.pick([
    "aws-cli/2.15.58 Python/3.11.8 Darwin/23.5.0 exe/x86_64 prompt/off command/ec2.describe-instances",
    "aws-cli/2.17.0 md/awscrt#0.20.11 ua/2.0 os/macos#23.5.0 md/arch#arm64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/prompt#off md/command#ec2.associate-address",
  ]);
}

export function browserAgent(rng: Rng): string {
  return rng.pick([
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0",
  ]);
}

export function ciAgent(): string {
  return "aws-cli/2.15.58 Python/3.11.8 Linux/6.5.0-1021-azure exe/x86_64.ubuntu.22 prompt/off command/cloudformation.deploy";
}

// Thieves. None of these contains a marker of a known offensive tool: the point is to test the
// address rules, so a thief here is careful about what his software says.

/** A CLI on a Linux box outside AWS: indistinguishable from server software by its agent. */
export function thiefLinuxCliAgent(command: string): string {
  return `aws-cli/2.16.4 Python/3.11.9 Linux/6.8.0-35-generic exe/x86_64.ubuntu.24 prompt/off command/${command}`;
}

export function thiefBoto3Agent(): string {
  return "Boto3/1.34.120 md/Botocore#1.34.120 ua/2.0 os/linux#6.1.91-99.172.amzn2023.x86_64 md/arch#x86_64 lang/python#3.9.16 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.120";
}

/** A CLI on a Mac: the foreign-agent rule sees it. */
export function thiefMacCliAgent(command: string): string {
  return `aws-cli/2.16.4 Python/3.11.9 Darwin/23.5.0 exe/x86_64 prompt/off command/${command}`;
}

/** An on-box shell: the instance's own CLI, so only the kind of call gives it away. */
export function onBoxCliAgent(command: string): string {
  return `aws-cli/2.15.58 Python/3.11.8 Linux/5.10.219-208.866.amzn2.x86_64 exe/x86_64.amzn.2 prompt/off command/${command}`;
}

/** SSRF through a headless browser (a PDF or thumbnail renderer): a browser agent from the instance. */
export function ssrfBrowserAgent(): string {
  return "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.6367.207 Safari/537.36";
}

/** SSRF through the application's own HTTP client: server software, nothing foreign about it. */
export function ssrfHttpClientAgent(rng: Rng): string {
  return rng.pick(["python-requests/2.31.0", "Apache-HttpClient/4.5.14 (Java/17.0.11)", "Go-http-client/1.1"]);
}
