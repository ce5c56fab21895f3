import { defineCommand } from 'citty';

export default defineCommand({
  meta: { name: 'testruns', description: 'Start, inspect, watch and cancel load tests run from several regions at once (the test-run API)' },
  subCommands: {
    start: () => import('./start.ts').then((m) => m.default),
    get: () => import('./get.ts').then((m) => m.default),
    watch: () => import('./watch.ts').then((m) => m.default),
    cancel: () => import('./cancel.ts').then((m) => m.default),
  },
});
