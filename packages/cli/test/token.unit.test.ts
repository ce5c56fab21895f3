/** The API token: where the CLI finds it, that it sends it, and what a refusal says. */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildApi } from '../src/api.ts';
import { DEFAULT_API_URL, DEFAULT_AWS_ENDPOINT, DEFAULT_PREFIX, resolveSettings, type CliEnv } from '../src/config.ts';

const env = (overrides: Partial<CliEnv> = {}): CliEnv => ({
  FLOTILLA_API_URL: DEFAULT_API_URL,
  FLOTILLA_PREFIX: DEFAULT_PREFIX,
  AWS_ENDPOINT_URL: DEFAULT_AWS_ENDPOINT,
  AWS_REGION: 'us-east-1',
  ...overrides,
});
const fromFile = () => 'token-from-the-run-file-0123';

describe('the API token', () => {
  it('is the --token flag, else FLOTILLA_API_TOKEN, else the local .run/api-token', () => {
    expect(resolveSettings({ token: 'token-from-the-flag-012345' }, env({ FLOTILLA_API_TOKEN: 'token-from-the-env-0123456' }), fromFile).api.token).toBe('token-from-the-flag-012345');
    expect(resolveSettings({}, env({ FLOTILLA_API_TOKEN: 'token-from-the-env-0123456' }), fromFile).api.token).toBe('token-from-the-env-0123456');
    expect(resolveSettings({}, env(), fromFile).api).toEqual({ url: DEFAULT_API_URL, token: 'token-from-the-run-file-0123', tokenSource: '.run/api-token' });
    expect(resolveSettings({}, env(), () => undefined).api.token).toBeUndefined();
  });

  it('never sends the local file to an API that is not on this machine', () => {
    expect(resolveSettings({ api: 'http://api.example:8080' }, env(), fromFile).api.token).toBeUndefined();
  });
});

describe('a 401', () => {
  let server: Server;
  let url: string;
  const seen: (string | undefined)[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      const ok = req.headers.authorization === 'Bearer right-token-0123456789';
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json', ...(ok ? {} : { 'www-authenticate': 'Bearer realm="flotilla"' }) });
      res.end(JSON.stringify(ok ? { builds: [] } : { error: 'unauthorized', message: 'this API needs Authorization: Bearer <token>' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends the token as Authorization: Bearer', async () => {
    await expect(new BuildApi({ url, token: 'right-token-0123456789' }).list(new URLSearchParams())).resolves.toEqual({ builds: [] });
    expect(seen.at(-1)).toBe('Bearer right-token-0123456789');
  });

  it('says which token was refused and where a token comes from', async () => {
    const refused = new BuildApi({ url, token: 'wrong-token-0123456789', tokenSource: 'FLOTILLA_API_TOKEN' }).list(new URLSearchParams());
    await expect(refused).rejects.toThrow(`the build API at ${url} refused the token from FLOTILLA_API_TOKEN (401)`);
    const none = new BuildApi({ url }).list(new URLSearchParams());
    await expect(none).rejects.toMatchObject({
      message: `the build API at ${url} got no token (401)`,
      hint: expect.stringMatching(/--token.*FLOTILLA_API_TOKEN.*\.run\/api-token/) as unknown,
    });
  });
});
