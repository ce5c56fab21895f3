import { defineCommand } from 'citty';

export default defineCommand({
  meta: { name: 'dlq', description: "The stack's dead-letter queues (<prefix>-*-dlq): list, redrive, purge" },
  subCommands: {
    list: () => import('./list.ts').then((m) => m.default),
    redrive: () => import('./redrive.ts').then((m) => m.default),
    purge: () => import('./purge.ts').then((m) => m.default),
  },
});
