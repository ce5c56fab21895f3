/**
 * The console: the page at `/` and its assets, as Vite built them into web/dist (the test command,
 * `pnpm build:console`, `./scripts/run.sh` and the image build it). The routes are public
 * (PUBLIC_ROUTES): the page holds no data, and asks for the token itself. Its Content-Security-Policy
 * allows nothing from elsewhere: scripts, styles and fetches come from this origin only.
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { HttpError, notFound, type FastifyReply, type HttpRoutes } from '@flotilla/platform';

/** Where `vite build` writes the console (services/build/web/vite.config.ts). */
export const CONSOLE_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export function consoleRoutes(root = CONSOLE_DIST): HttpRoutes {
  return async (app) => {
    // sendFile only: each route is declared here, so each is in PUBLIC_ROUTES by its own name.
    await app.register(fastifyStatic, { root, serve: false });
    const page = (reply: FastifyReply) => {
      if (!existsSync(join(root, 'index.html'))) {
        throw new HttpError(503, 'console_not_built', 'the console is not built: run `pnpm build:console` (./scripts/run.sh and the test command build it)');
      }
      // The page names its assets by content hash: it is re-read each time, they are kept.
      return reply
        .header('cache-control', 'no-cache')
        .header('content-security-policy', CONTENT_SECURITY_POLICY)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .sendFile('index.html', { cacheControl: false });
    };
    app.get('/', { schema: { hide: true } }, (_request, reply) => page(reply));
    app.get('/index.html', { schema: { hide: true } }, (_request, reply) => page(reply));
    app.get<{ Params: { '*': string } }>('/assets/*', { schema: { hide: true } }, (request, reply) => {
      // Vite writes the assets flat into assets/: a name with a directory in it is none of them.
      const name = request.params['*'];
      if (name !== basename(name) || !existsSync(join(root, 'assets', name))) throw notFound(`no console asset ${name}`);
      return reply.header('x-content-type-options', 'nosniff').sendFile(`assets/${name}`, { immutable: true, maxAge: '365d' });
    });
  };
}
