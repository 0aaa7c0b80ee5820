/** Test events of crash detection. */
/** An ECS Task State Change event as EventBridge delivers it (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html). */
export function taskStoppedEvent(o: { id?: string; task?: string; group?: string; stoppedAt?: string; stopCode?: string; stoppedReason?: string; exitCode?: number | null } = {}) {
  return {
    version: '0',
    id: o.id ?? 'evt-1',
    'detail-type': 'ECS Task State Change',
    source: 'aws.ecs',
    account: '123456789012',
    time: o.stoppedAt ?? '2030-01-01T00:04:00.000Z',
    region: 'us-east-1',
    resources: [`arn:aws:ecs:us-east-1:123456789012:task/dev/${o.task ?? 't1'}`],
    detail: {
      clusterArn: 'arn:aws:ecs:us-east-1:123456789012:cluster/dev',
      group: o.group ?? 'service:dev-frontend-green',
      taskArn: `arn:aws:ecs:us-east-1:123456789012:task/dev/${o.task ?? 't1'}`,
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stopCode: o.stopCode ?? 'EssentialContainerExited',
      stoppedReason: o.stoppedReason ?? 'Essential container in task exited',
      stoppedAt: o.stoppedAt ?? '2030-01-01T00:04:00.000Z',
      version: 4,
      containers: [{ name: 'App', exitCode: o.exitCode === null ? undefined : (o.exitCode ?? 1), lastStatus: 'STOPPED' }],
    },
  };
}
