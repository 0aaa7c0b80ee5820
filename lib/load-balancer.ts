import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { pascalCase } from './names';
import type { AccessConfig, AccessSource, CidrAccessSource } from '../config/types';

export interface PublicLoadBalancerProps {
  readonly vpc: ec2.IVpc;
  /**
   * The host of each service, by service name (config `services.<name>.host`): each gets a name on the certificate and
   * an alias record in `hostedZone`.
   */
  readonly hosts: Readonly<Record<string, string>>;
  /** The hosts whose requests may carry bodies above the WAF's 8 KB inspection limit (config `largeRequestBodies`). @default - none */
  readonly largeBodyHosts?: readonly string[];
  readonly hostedZone: route53.IHostedZone;
  readonly accessLogBucket: s3.IBucket;
  /** Port of the pre-traffic test listener. */
  readonly testListenerPort: number;
  /** The operator CIDR that may reach the test listener. */
  readonly testListenerCidr: string;
  /**
   * More sources of the test listener: the VPC's NAT addresses, through which the release Lambda's
   * pre-traffic checks arrive at the internet-facing ALB. @default - none
   */
  readonly testListenerSources?: readonly string[];
  /**
   * Who may reach ports 80 and 443: `{ public: true }` (anywhere), or the listed CIDRs and managed prefix lists, one
   * security group rule per source and port. With `waf`, a list of CIDRs only is also enforced by a WAF rule.
   * @default - public: 80 and 443 from anywhere
   */
  readonly access?: AccessConfig;
  /** Associate a WAF web ACL with AWS managed rule groups. @default false */
  readonly waf?: boolean;
  /** Key and retention of the WAF log group; required with `waf`. @default - no WAF */
  readonly wafLogs?: { readonly encryptionKey: kms.IKey; readonly retention: logs.RetentionDays };
  /**
   * ALB deletion protection: a stack deletion, or a change that replaces the ALB, cannot delete it
   * (and with it the address the storefront and API names point at). @default false
   */
  readonly deletionProtection?: boolean;
}

/**
 * Label the core rule set puts on a request whose body exceeds 8 KB (its rule SizeRestrictions_BODY).
 * https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html
 */
export const BODY_SIZE_LABEL = 'awswaf:managed:aws:core-rule-set:SizeRestrictions_Body';

/**
 * Names per ACM certificate: 10 by default (the domain name and its alternative names).
 * https://docs.aws.amazon.com/acm/latest/userguide/acm-limits.html
 */
export const NAMES_PER_CERTIFICATE = 10;

const NOT_FOUND = elbv2.ListenerAction.fixedResponse(404, { contentType: 'text/plain', messageBody: 'Not found' });

/**
 * The internet-facing ALB: HTTPS with a DNS-validated certificate and a current TLS policy, HTTP
 * redirected to HTTPS, a separate test listener for pre-traffic checks, access logs and optional WAF.
 * Both listeners answer 404 by default; services are routed by host rules added elsewhere.
 */
export class PublicLoadBalancer extends Construct {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** Customer traffic: host rules carry the blue/green weights. */
  readonly productionListener: elbv2.ApplicationListener;
  /** Pre-traffic checks: reaches a named color regardless of weights. */
  readonly testListener: elbv2.ApplicationListener;
  /** The certificates of the services' hosts, 10 names each (the listeners serve them all by SNI). */
  readonly certificates: readonly acm.ICertificate[];

  constructor(scope: Construct, id: string, props: PublicLoadBalancerProps) {
    super(scope, id);
    const hosts = [...new Set(Object.values(props.hosts))];
    if (hosts.length === 0) throw new Error('PublicLoadBalancer: hosts must name at least one host');

    // In config order, so adding a service changes only the last certificate.
    const certificates: acm.Certificate[] = [];
    for (let i = 0; i < hosts.length; i += NAMES_PER_CERTIFICATE) {
      const names = hosts.slice(i, i + NAMES_PER_CERTIFICATE);
      certificates.push(
        new acm.Certificate(this, i === 0 ? 'Certificate' : `Certificate${i / NAMES_PER_CERTIFICATE + 1}`, {
          domainName: names[0],
          subjectAlternativeNames: names.length > 1 ? names.slice(1) : undefined,
          validation: acm.CertificateValidation.fromDns(props.hostedZone),
        }),
      );
    }
    this.certificates = certificates;

    const access = props.access ?? { public: true };
    const sources: readonly AccessSource[] | undefined = Array.isArray(access) ? access : undefined;
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      // A group's description cannot change without replacing the group: a public ALB keeps the one it always had.
      description: sources
        ? 'Internet-facing ALB: 80/443 from the configured access sources only, test listener from the operator CIDR only'
        : 'Internet-facing ALB: 80/443 from anywhere, test listener from the operator CIDR only',
      allowAllOutbound: false,
    });
    if (sources) {
      // One rule per source and port; a prefix list reference counts as its max entries toward the group's inbound
      // rules quota, which config validation checks (config/validate.ts albInboundRules).
      for (const source of sources) {
        const peer = 'prefixListId' in source ? ec2.Peer.prefixList(source.prefixListId) : ec2.Peer.ipv4(source.cidr);
        securityGroup.addIngressRule(peer, ec2.Port.tcp(443), `HTTPS from ${source.description}`);
        securityGroup.addIngressRule(peer, ec2.Port.tcp(80), `HTTP from ${source.description}, redirected to HTTPS`);
      }
    } else {
      securityGroup.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS from the internet');
      securityGroup.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(80), 'HTTP from the internet, redirected to HTTPS');
      Validations.of(securityGroup).acknowledge({
        id: 'AwsSolutions-EC23',
        reason: 'The public storefront and API must accept 80/443 from anywhere; 80 only redirects to HTTPS, and WAF filters 443 in staging and production',
      });
    }
    securityGroup.addIngressRule(ec2.Peer.ipv4(props.testListenerCidr), ec2.Port.tcp(props.testListenerPort), 'Pre-traffic test listener');
    (props.testListenerSources ?? []).forEach((cidr, i) =>
      securityGroup.addIngressRule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(props.testListenerPort), `Pre-traffic checks from the VPC (NAT ${i + 1})`),
    );
    if (sources) {
      // Not a finding: no rule opens 0.0.0.0/0 (test/cdk/load-balancer.test.ts), but AwsSolutions-EC23 throws on a
      // CIDR it cannot resolve, and the test listener's NAT sources are references to the stateful stack's Elastic IPs.
      Validations.of(securityGroup).acknowledge({
        id: 'AwsSolutions-EC23',
        reason: '80/443 are open only to the config access sources (literal CIDRs and prefix lists, validated at synth); the rule cannot read the test listener NAT sources, CloudFormation references',
      });
    }
    for (const rule of ['PCI.DSS.321-EC2RestrictedCommonPorts', 'PCI.DSS.321-EC2RestrictedSSH']) {
      Validations.of(securityGroup).acknowledge({
        id: rule,
        reason: `Ingress is 80, 443 and the test port ${props.testListenerPort} only; the NAT sources are CloudFormation references the rule cannot read`,
      });
    }

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'Alb', {
      vpc: props.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup,
      dropInvalidHeaderFields: true,
      http2Enabled: true,
      idleTimeout: Duration.seconds(60),
      deletionProtection: props.deletionProtection ?? false,
    });
    this.loadBalancer.logAccessLogs(props.accessLogBucket, 'alb');

    const sslPolicy = elbv2.SslPolicy.RECOMMENDED_TLS;
    this.productionListener = this.loadBalancer.addListener('Https', {
      port: 443,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      certificates,
      sslPolicy,
      open: false,
      defaultAction: NOT_FOUND,
    });
    const http = this.loadBalancer.addListener('Http', {
      port: 80,
      protocol: elbv2.ApplicationProtocol.HTTP,
      open: false,
      defaultAction: elbv2.ListenerAction.redirect({ protocol: 'HTTPS', port: '443', permanent: true }),
    });
    Validations.of(http).acknowledge({
      id: 'PCI.DSS.321-ELBv2ACMCertificateRequired',
      reason: 'Port 80 answers only with a permanent redirect to HTTPS and forwards nothing',
    });
    this.testListener = this.loadBalancer.addListener('Test', {
      port: props.testListenerPort,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      certificates,
      sslPolicy,
      open: false,
      defaultAction: NOT_FOUND,
    });

    for (const [service, name] of Object.entries(props.hosts)) {
      new route53.ARecord(this, `${pascalCase(service)}Record`, {
        zone: props.hostedZone,
        recordName: name,
        target: route53.RecordTarget.fromAlias(new targets.LoadBalancerTarget(this.loadBalancer)),
      });
    }

    if (props.waf) {
      if (!props.wafLogs) throw new Error('PublicLoadBalancer: wafLogs is required when waf is true');
      this.addWebAcl(props.wafLogs, props.largeBodyHosts ?? [], sources, [props.testListenerCidr, ...(props.testListenerSources ?? [])]);
    } else {
      Validations.of(this.loadBalancer).acknowledge({
        id: 'PCI.DSS.321-ALBWAFEnabled',
        reason: 'WAF is off by config in dev (developers only, no customer data); config turns it on in staging and production',
      });
    }
  }

  private addWebAcl(
    wafLogs: NonNullable<PublicLoadBalancerProps['wafLogs']>,
    largeBodyHosts: readonly string[],
    sources: readonly AccessSource[] | undefined,
    testListenerSources: readonly string[],
  ): void {
    const managed = ['AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet', 'AWSManagedRulesAmazonIpReputationList', 'AWSManagedRulesSQLiRuleSet'];
    const visibility = (metricName: string) => ({ cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName });
    // The core rule set's SizeRestrictions_BODY blocks every body over 8 KB, and an ALB hands WAF
    // at most 8 KB of body, a fixed limit, so no size rule of ours can allow a larger, sane bound
    // instead. A service that takes legitimate bodies above 8 KB (an API taking orders with many lines,
    // uploads) says so in config (`largeRequestBodies`): then the rule only counts, and the rule after
    // the group blocks what it labeled unless the request is for one of those hosts, whose service
    // enforces its own body limit. Every other host keeps the 8 KB limit. The other rules still
    // inspect the first 8 KB of every body.
    // https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html
    // https://docs.aws.amazon.com/waf/latest/developerguide/web-request-body-inspection.html
    const sourceRule = sources && this.accessSourcesRule(sources, testListenerSources, visibility('AccessSourcesOnly'));
    const first = sourceRule ? 1 : 0;
    const managedRules: wafv2.CfnWebACL.RuleProperty[] = managed.map((name, i) => ({
      name,
      priority: first + i,
      overrideAction: { none: {} },
      statement: {
        managedRuleGroupStatement: {
          vendorName: 'AWS',
          name,
          ruleActionOverrides: name === 'AWSManagedRulesCommonRuleSet' && largeBodyHosts.length > 0 ? [{ name: 'SizeRestrictions_BODY', actionToUse: { count: {} } }] : undefined,
        },
      },
      visibilityConfig: visibility(name),
    }));
    const hostIs = (host: string): wafv2.CfnWebACL.StatementProperty => ({
      byteMatchStatement: {
        fieldToMatch: { singleHeader: { Name: 'host' } },
        positionalConstraint: 'EXACTLY',
        searchString: host,
        textTransformations: [{ priority: 0, type: 'LOWERCASE' }],
      },
    });
    const largeBodyHost: wafv2.CfnWebACL.StatementProperty =
      largeBodyHosts.length === 1 ? hostIs(largeBodyHosts[0]) : { orStatement: { statements: largeBodyHosts.map(hostIs) } };
    const largeBodiesElsewhere: wafv2.CfnWebACL.RuleProperty = {
      name: 'LargeBodyOnlyWhereAllowed',
      priority: first + managed.length,
      action: { block: {} },
      statement: {
        andStatement: {
          statements: [
            { labelMatchStatement: { scope: 'LABEL', key: BODY_SIZE_LABEL } },
            { notStatement: { statement: largeBodyHost } },
          ],
        },
      },
      visibilityConfig: visibility('LargeBodyOnlyWhereAllowed'),
    };
    const acl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('WebAcl'),
      rules: [...(sourceRule ? [sourceRule] : []), ...managedRules, ...(largeBodyHosts.length > 0 ? [largeBodiesElsewhere] : [])],
    });
    new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', {
      resourceArn: this.loadBalancer.loadBalancerArn,
      webAclArn: acl.attrArn,
    });
    // WAF only delivers to log groups whose name starts with aws-waf-logs-.
    // https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html
    const logGroup = new logs.LogGroup(this, 'WafLogs', {
      logGroupName: `aws-waf-logs-${Stack.of(this).stackName}`,
      encryptionKey: wafLogs.encryptionKey,
      retention: wafLogs.retention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    new wafv2.CfnLoggingConfiguration(this, 'WafLogging', {
      resourceArn: acl.attrArn,
      logDestinationConfigs: [logGroup.logGroupArn],
    });
  }

  /**
   * The WAF half of a non-public `access`: blocks, first of all rules, every request whose source is neither an access
   * CIDR nor a test listener source. The web ACL covers every listener of the ALB, and a WAF rule cannot see the port,
   * so the test listener's sources (the operator CIDR and the NAT addresses the release's pre-traffic checks come from)
   * must pass it; on 80 and 443 the security group still admits the access sources only.
   * A WAF IP set holds CIDRs, not prefix lists, so with any prefix list in `access` this rule would block the prefix
   * list's sources: there is no rule then, and the security group alone enforces `access`.
   * https://docs.aws.amazon.com/waf/latest/developerguide/waf-ip-set-managing.html
   * @returns the rule, or undefined where `access` lists a prefix list
   */
  private accessSourcesRule(
    sources: readonly AccessSource[],
    testListenerSources: readonly string[],
    visibilityConfig: wafv2.CfnWebACL.VisibilityConfigProperty,
  ): wafv2.CfnWebACL.RuleProperty | undefined {
    if (sources.some((s) => 'prefixListId' in s)) return undefined;
    const ipSet = (id: string, description: string, addresses: readonly string[]) =>
      new wafv2.CfnIPSet(this, id, { scope: 'REGIONAL', ipAddressVersion: 'IPV4', description, addresses: [...addresses] });
    const access = ipSet('AccessSources', 'Who may reach the storefront and the API, config access', (sources as readonly CidrAccessSource[]).map((s) => s.cidr));
    const test = ipSet('TestListenerSources', 'The operator CIDR and the NAT addresses, for the test listener', testListenerSources);
    return {
      name: 'AccessSourcesOnly',
      priority: 0,
      action: { block: {} },
      statement: {
        notStatement: {
          statement: {
            orStatement: {
              statements: [access, test].map((set) => ({ ipSetReferenceStatement: { arn: set.attrArn } })),
            },
          },
        },
      },
      visibilityConfig,
    };
  }
}
