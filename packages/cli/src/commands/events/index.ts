import { defineCommand } from 'citty';

export default defineCommand({
  meta: { name: 'events', description: 'Read the global event log' },
  subCommands: {
    tail: () => import('./tail.ts').then((m) => m.default),
  },
});
