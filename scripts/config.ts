/**
 * Environment of the local scripts (run, deploy). These drive the local emulator by design, so
 * unlike a service's config they default the endpoint to loopback.
 */
import { z } from 'zod';
import { parseEnv } from '@flotilla/platform';

export const scriptEnv = parseEnv(
  {
    AWS_ENDPOINT_URL: z.url().default('http://127.0.0.1:4566').describe('Emulator endpoint (the scripts target the local AWS)'),
    AWS_REGION: z.string().default('us-east-1'),
    AWS_ACCESS_KEY_ID: z.string().default('test'),
    AWS_SECRET_ACCESS_KEY: z.string().default('test'),
    LOG_LEVEL: z.string().default('info'),
    EMULATOR_PERSIST: z
      .enum(['0', '1'])
      .default('1')
      .describe('1: an emulator the run command starts keeps its state across restarts (scripts/emulator.sh); 0: in memory'),
    EMULATOR_STATE_DIR: z.string().min(1).optional().describe('Where that state lives (default .run/emulator-<port>/state)'),
    FLOTILLA_API_TOKEN: z.string().min(16).regex(/^\S+$/).optional().describe('The API token the services require; unset: the one in FLOTILLA_API_TOKEN_FILE, made when missing'),
    FLOTILLA_API_TOKEN_FILE: z.string().min(1).default('.run/api-token').describe('Where the run command keeps the local API token (relative to the checkout), mode 0600'),
    GITHUB_API_URL: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe("A GitHub for onboarding instead of the local simulator (e.g. https://api.github.com), with GITHUB_TOKEN and GITHUB_WEBHOOK_SECRET; unset: the run command starts packages/github-sim"),
    GITHUB_TOKEN: z.string().min(1).optional().describe('Token for GITHUB_API_URL'),
    GITHUB_WEBHOOK_SECRET: z.string().min(16).optional().describe("The secret GITHUB_API_URL's webhooks are signed with"),
    HOST: z
      .union([z.ipv4(), z.ipv6()])
      .default('127.0.0.1')
      .describe('Address the services listen on: loopback unless you mean others on the network to reach them (then 0.0.0.0)'),
  },
  process.env,
);
