/**
 * The lifecycle events bus and the webhook path in the synthesized stack: every function
 * that changes a status may put events on the bus; a rule feeds the webhook queue; the
 * sender reads it with partial batch failures, signs with the secret it may read, and
 * dead-letters to a TLS-only queue.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES } from '../../core/resources.ts';
import { EVENT_BUS_ENV } from '../../adapters/lifecycle-events.ts';
import { VtoStack } from '../../lib/stack.ts';

const outdir = mkdtempSync(join(tmpdir(), 'vto-events-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

let stack: VtoStack;
let template: Template;
beforeAll(() => {
  stack = new VtoStack(new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');
  template = Template.fromStack(stack);
});

const id = (c: IConstruct) => stack.resolve((c.node.defaultChild as CfnElement).logicalId) as string;

/** A resource of a policy statement as text, pseudo parameters as `<AWS::Region>`. */
function arnText(v: unknown): string {
  if (typeof v === 'string') return v;
  const o = v as { Ref?: string; 'Fn::Join'?: [string, unknown[]] };
  if (o.Ref !== undefined) return `<${o.Ref}>`;
  if (o['Fn::Join'] !== undefined) return o['Fn::Join'][1].map(arnText).join(o['Fn::Join'][0]);
  return JSON.stringify(v);
}

/** The resources `role` may call `action` on. */
function resourcesOf(role: IConstruct, action: string): string[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p['Properties']['Roles']).includes(`"${id(role)}"`));
  const statements = policies.flatMap((p) => (p['Properties'] as { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } }).PolicyDocument.Statement);
  return statements.filter((st) => [st.Action].flat().includes(action)).flatMap((st) => [st.Resource].flat().map(arnText));
}

describe('lifecycle events on AWS', () => {
  it('gives every status-changing function the bus name and PutEvents on that bus, the sender neither', () => {
    const busName = (template.findResources('AWS::Events::EventBus')[id(stack.events.bus)]!['Properties'] as { Name: unknown }).Name;
    expect(busName).toBe('Test-events');
    const emitters = [...Object.values(stack.functions.functions), stack.api.handler, stack.observability.watchdog, stack.observability.reconciler];
    const fns = template.findResources('AWS::Lambda::Function');
    for (const e of emitters) {
      const vars = (fns[id(e.function)]!['Properties'] as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
      expect(vars[EVENT_BUS_ENV], e.node.path).toEqual({ Ref: id(stack.events.bus) });
      expect(resourcesOf(e.role, 'events:PutEvents'), e.node.path).toEqual([`arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:event-bus/${String(busName)}`]);
    }
    expect(resourcesOf(stack.events.sender.role, 'events:PutEvents')).toEqual([]);
  });

  it('routes the bus to the webhook queue, which redrives to its dead-letter queue', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: id(stack.events.bus) },
      EventPattern: { source: ['vto.pipeline'] },
      Targets: Match.arrayWith([Match.objectLike({ Arn: { 'Fn::GetAtt': [id(stack.events.webhookQueue), 'Arn'] } })]),
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [id(stack.events.webhookDeadLetterQueue), 'Arn'] }, maxReceiveCount: QUEUES.webhooks.deadLetter.maxReceiveCount },
      MessageRetentionPeriod: QUEUES.webhooks.retentionSeconds,
    });
  });

  it('runs the sender from the queue with partial batch failures, reading the signing secret by ARN', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: id(stack.events.sender.function) },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    const vars = (template.findResources('AWS::Lambda::Function')[id(stack.events.sender.function)]!['Properties'] as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
    expect(vars['VTO_WEBHOOK_SECRET_ARN']).toEqual({ Ref: id(stack.events.webhookSecret) });
    expect(vars['VTO_WEBHOOK_SECRET']).toBeUndefined();
  });
});
