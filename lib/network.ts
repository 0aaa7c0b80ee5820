import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface NetworkProps {
  readonly cidr: string;
  /** Explicit AZs, so synth needs no account lookup. */
  readonly availabilityZones: readonly string[];
  readonly natGateways: number;
  /** Interface endpoints for ECR, CloudWatch Logs and Secrets Manager. */
  readonly interfaceEndpoints: boolean;
  readonly flowLogRetention: logs.RetentionDays;
  /** Key encrypting the flow log group. */
  readonly encryptionKey: kms.IKey;
  /** Whether the flow log group survives stack deletion. */
  readonly retainLogs: boolean;
}

/**
 * A VPC with public (ALB, NAT), private-with-egress (tasks) and isolated (RDS, cache) subnets,
 * flow logs, and endpoints that keep AWS-bound traffic off the NAT gateways.
 */
export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  /** `<ip>/32` of each NAT gateway: the source address of anything in the VPC calling a public endpoint. */
  readonly natSourceCidrs: string[];

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.cidr),
      availabilityZones: [...props.availabilityZones],
      natGateways: props.natGateways,
      restrictDefaultSecurityGroup: true,
      subnetConfiguration: [
        // Nothing launched here needs a public IP: NAT gateways get Elastic IPs, the ALB its own.
        { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
    });

    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.flowLogRetention,
      encryptionKey: props.encryptionKey,
      removalPolicy: props.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    this.natSourceCidrs = this.vpc.publicSubnets
      .map((s) => s.node.tryFindChild('EIP'))
      .filter((eip): eip is ec2.CfnEIP => eip instanceof ec2.CfnEIP)
      .map((eip) => `${eip.attrPublicIp}/32`);

    // Gateway endpoints are free; S3 carries ECR image layers.
    this.vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });

    if (props.interfaceEndpoints) {
      // Each interface endpoint costs about $7/AZ/month but image pulls, logs and secret reads of
      // every task otherwise cross the NAT at $0.045/GB; with several tasks per color and two colors
      // that pays off in staging and production, not in a single-task dev environment.
      // https://aws.amazon.com/privatelink/pricing/ , https://aws.amazon.com/vpc/pricing/
      for (const [name, service] of [
        ['EcrApi', ec2.InterfaceVpcEndpointAwsService.ECR],
        ['EcrDocker', ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER],
        ['Logs', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
        ['SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
      ] as const) {
        const endpoint = this.vpc.addInterfaceEndpoint(name, { service, privateDnsEnabled: true, open: false });
        endpoint.connections.allowDefaultPortFrom(ec2.Peer.ipv4(props.cidr), 'HTTPS from inside the VPC');
      }
    }

    // The internet-facing ALB and the NAT gateways must sit in subnets routed to the internet
    // gateway; tasks, database and cache are in private and isolated subnets without such a route.
    Validations.of(this.vpc).acknowledge({
      id: 'PCI.DSS.321-VPCNoUnrestrictedRouteToIGW',
      reason: 'Only the public subnets route 0.0.0.0/0 to the IGW; they hold just the internet-facing ALB and NAT gateways',
    });
  }
}
