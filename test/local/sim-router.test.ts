/** The simulators' route table (local/comfyui/router.ts): aiohttp's matching rules. */
import { describe, expect, it } from 'vitest';
import { RouteTable } from '../../local/comfyui/router.ts';

const table = new RouteTable([
  { method: 'GET', path: '/history', handler: 'list' },
  { method: 'GET', path: '/history/{prompt_id}', handler: 'one' },
  { method: 'POST', path: '/history', handler: 'edit' },
  { method: 'GET', path: '/a.b', handler: 'dotted' },
]);

describe('RouteTable', () => {
  it('hands a {name} segment to the handler percent-decoded', () => {
    expect(table.match('GET', '/history/a%2Fb%20c')).toEqual({ kind: 'found', handler: 'one', params: { prompt_id: 'a/b c' } });
  });

  it('matches the method: GET and POST of one path reach different handlers, HEAD reaches GET', () => {
    expect(table.match('POST', '/history')).toMatchObject({ kind: 'found', handler: 'edit' });
    expect(table.match('HEAD', '/history')).toMatchObject({ kind: 'found', handler: 'list' });
  });

  it('answers 405 for a path a route has under another method, 404 for any other', () => {
    expect(table.match('DELETE', '/history/x')).toEqual({ kind: 'method-not-allowed' });
    expect(table.match('GET', '/history/x/y')).toEqual({ kind: 'not-found' });
    expect(table.match('GET', '/history/')).toEqual({ kind: 'not-found' });
  });

  it('takes a literal path literally', () => {
    expect(table.match('GET', '/a.b')).toMatchObject({ kind: 'found', handler: 'dotted' });
    expect(table.match('GET', '/aXb')).toEqual({ kind: 'not-found' });
  });

  it('throws URIError for a segment that is not valid percent-encoding', () => {
    expect(() => table.match('GET', '/history/%E0%A4%A')).toThrow(URIError);
  });
});
