/**
 * Call attribution of the recorder (test/support/instrument.ts): calls made inside `recordAs(handler, …)` carry the
 * handler, across awaits and with two handlers running at once on the same clients; other calls carry none.
 * No server: every call is failed by the recorder before it is sent.
 */
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { instrumentClients, recordAs } from '../support/instrument';

test('GIVEN two handlers sharing a client WHEN they run at once THEN each call carries the handler it was made for', async () => {
  const dynamodb = new DynamoDBClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const inst = instrumentClients({ dynamodb });
  try {
    const refused = () => Object.assign(new Error('not sent'), { name: 'NotSent' });
    inst.failNext('GetItem', refused, 3);
    inst.failNext('PutItem', refused, 2);
    const call = (cmd: GetItemCommand | PutItemCommand) => dynamodb.send(cmd as GetItemCommand).catch(() => undefined);
    const get = () => call(new GetItemCommand({ TableName: 'lock', Key: {} }));
    const put = () => call(new PutItemCommand({ TableName: 'ledger', Item: {} }));
    const tick = () => new Promise((r) => setTimeout(r, 1));
    await Promise.all([
      recordAs('release', async () => {
        await get();
        await tick();
        await put();
      }),
      recordAs('backup', async () => {
        await tick();
        await put();
        await get();
      }),
    ]);
    await get();
    expect(inst.calls.map((c) => [c.handler, c.command]).sort()).toEqual(
      [
        ['backup', 'GetItem'],
        ['backup', 'PutItem'],
        ['release', 'GetItem'],
        ['release', 'PutItem'],
        [undefined, 'GetItem'],
      ].sort(),
    );
    expect(inst.calls.find((c) => c.handler === undefined)).not.toHaveProperty('handler');
  } finally {
    inst.detach();
    dynamodb.destroy();
  }
});
