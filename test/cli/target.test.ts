/** Where the CLI sends its requests: the offline stack's endpoints file, or a deployed API. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliError, NoStackError, UsageError } from '../../cli/errors.ts';
import { resolveTarget } from '../../cli/target.ts';

const dir = mkdtempSync(join(tmpdir(), 'vto-target-'));
const file = (name: string, content: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};
const local = { region: 'us-east-1', credentials: { accessKeyId: 'k', secretAccessKey: 's' } };

describe('the offline stack', () => {
  it('is found through its endpoints file, with its region and credentials', async () => {
    const t = resolveTarget({ endpoints: file('ok.json', { ...local, api: 'http://127.0.0.1:4000/v1/', sqs: 'x' }) });
    expect(t).toMatchObject({ url: 'http://127.0.0.1:4000/v1', region: 'us-east-1', offline: true });
    expect(await t.credentials()).toEqual({ accessKeyId: 'k', secretAccessKey: 's' });
  });

  it('is "not found" with how to start it when the endpoints file does not exist', () => {
    const missing = join(dir, 'none.json');
    expect(() => resolveTarget({ endpoints: missing })).toThrow(NoStackError);
    expect(() => resolveTarget({ endpoints: missing })).toThrow(`no offline stack found: start it with \`npm start -- --serve\` (no endpoints file at ${missing})`);
  });

  it.each([
    { name: 'not JSON', content: '{', message: 'is not valid JSON' },
    { name: 'no credentials', content: { region: 'x', api: 'http://h/v1' }, message: 'credentials: ' },
  ])('explains an endpoints file that is $name', ({ name, content, message }) => {
    const path = file(`${name}.json`, content);
    expect(() => resolveTarget({ endpoints: path })).toThrow(CliError);
    expect(() => resolveTarget({ endpoints: path })).toThrow(message);
  });

  it('says to restart a stack that serves no API', () => {
    expect(() => resolveTarget({ endpoints: file('noapi.json', local) })).toThrow('serves no API: restart it with `npm start -- --serve`');
  });
});

describe('a deployed API', () => {
  it('takes the region from an execute-api host name', () => {
    const t = resolveTarget({ endpoint: 'https://abc123.execute-api.eu-west-1.amazonaws.com/v1/' }, {});
    expect(t).toMatchObject({ url: 'https://abc123.execute-api.eu-west-1.amazonaws.com/v1', region: 'eu-west-1', offline: false });
  });

  it('takes --region, else AWS_REGION, for a custom domain', () => {
    expect(resolveTarget({ endpoint: 'https://api.example.com/v1', region: 'ap-south-1' }, { AWS_REGION: 'us-west-2' }).region).toBe('ap-south-1');
    expect(resolveTarget({ endpoint: 'https://api.example.com/v1' }, { AWS_REGION: 'us-west-2' }).region).toBe('us-west-2');
  });

  it.each([
    { o: { endpoint: 'https://api.example.com/v1' }, message: 'give the API\'s region with --region' },
    { o: { endpoint: 'not a url' }, message: '--endpoint not a url: not a URL' },
    { o: { endpoint: 'ftp://h/v1', region: 'x' }, message: 'must be an http(s) URL' },
    { o: { endpoint: 'https://h/v1', endpoints: 'f.json' }, message: 'either --endpoint' },
    { o: { region: 'eu-west-1' }, message: '--region and --profile go with --endpoint' },
  ])('is bad usage: $message', ({ o, message }) => {
    expect(() => resolveTarget(o, {})).toThrow(UsageError);
    expect(() => resolveTarget(o, {})).toThrow(message);
  });
});
