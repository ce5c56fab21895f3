import { defineCommand } from 'citty';

export default defineCommand({
  meta: { name: 'builds', description: 'Submit, list, inspect, watch and cancel builds (the build API)' },
  subCommands: {
    submit: () => import('./submit.ts').then((m) => m.default),
    list: () => import('./list.ts').then((m) => m.default),
    get: () => import('./get.ts').then((m) => m.default),
    watch: () => import('./watch.ts').then((m) => m.default),
    cancel: () => import('./cancel.ts').then((m) => m.default),
  },
});
