import { defineCommand } from 'citty';

export default defineCommand({
  meta: { name: 'services', description: 'Create a new service (its pull requests, workflow runs and first build, in order) and follow its creation (the services API)' },
  subCommands: {
    create: () => import('./create.ts').then((m) => m.default),
    get: () => import('./get.ts').then((m) => m.default),
    watch: () => import('./watch.ts').then((m) => m.default),
  },
});
