/**
 * `POST /graphql`, for the one mutation onboarding needs: enablePullRequestAutoMerge. There is no
 * GraphQL engine here: the mutation is found by name in the query text and its input read from
 * the variables (`input: {pullRequestId: $id, mergeMethod: $method}`, `input: $input`) or from
 * literals. Errors are GitHub's: HTTP 200 with `data: null` and typed `errors`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GraphQLError } from './errors.ts';
import type { MergeMethod } from './model.ts';
import type { Simulation } from './simulation.ts';

const MUTATION = 'enablePullRequestAutoMerge';

const graphqlBody = z.object({
  query: z.string(),
  variables: z.record(z.string(), z.unknown()).nullish(),
  operationName: z.string().nullish(),
});
const mergeMethodSchema = z.enum(['MERGE', 'SQUASH', 'REBASE']);
const inputSchema = z.object({ pullRequestId: z.string().min(1), mergeMethod: mergeMethodSchema.default('MERGE') });

/** The request log's operation name for a GraphQL request. */
export function graphqlOperation(request: FastifyRequest): string {
  const parsed = graphqlBody.safeParse(request.body);
  return parsed.success && parsed.data.query.includes(MUTATION) ? `graphql.${MUTATION}` : 'unknown';
}

/** One argument of the mutation's input: a `$variable` or a literal (quoted string or enum). */
function argument(inputText: string, name: string, variables: Record<string, unknown>): unknown {
  const match = new RegExp(`\\b${name}\\s*:\\s*(?:\\$(\\w+)|"((?:[^"\\\\]|\\\\.)*)"|(\\w+))`).exec(inputText);
  if (!match) return undefined;
  return match[1] !== undefined ? variables[match[1]] : (match[2] ?? match[3]);
}

/** The mutation's input: `input: $var` (an object variable) or `input: { ... }` with arguments. */
function mutationInput(query: string, variables: Record<string, unknown>): z.infer<typeof inputSchema> {
  const start = query.indexOf(MUTATION);
  const call = /^\s*\(\s*input\s*:\s*(?:\$(\w+)|\{([^}]*)\})/.exec(query.slice(start + MUTATION.length));
  if (!call) throw new GraphQLError('INVALID', `${MUTATION} needs an input argument`);
  const raw = call[1] !== undefined ? variables[call[1]] : { pullRequestId: argument(call[2] ?? '', 'pullRequestId', variables), mergeMethod: argument(call[2] ?? '', 'mergeMethod', variables) ?? undefined };
  const parsed = inputSchema.safeParse(raw);
  if (!parsed.success) throw new GraphQLError('INVALID', `invalid ${MUTATION} input: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export function graphqlRoutes(sim: Simulation) {
  return (app: FastifyInstance): Promise<void> => {
    app.post('/graphql', { config: { operation: graphqlOperation } }, (request) => {
      const parsed = graphqlBody.safeParse(request.body);
      if (!parsed.success) return Promise.resolve({ errors: [{ message: 'A query attribute must be specified and must be a string.' }] });
      const { query, variables } = parsed.data;
      if (!query.includes(MUTATION)) {
        return Promise.resolve({ errors: [{ type: 'INVALID', message: `the GitHub simulator answers only the ${MUTATION} mutation` }] });
      }
      try {
        const input = mutationInput(query, variables ?? {});
        const pr = sim.enableAutoMerge(input.pullRequestId, input.mergeMethod satisfies MergeMethod);
        return Promise.resolve({
          data: { [MUTATION]: { pullRequest: { number: pr.number, autoMergeRequest: { enabledAt: pr.autoMerge?.enabledAt ?? null, mergeMethod: pr.autoMerge?.mergeMethod ?? null } } } },
        });
      } catch (error) {
        if (!(error instanceof GraphQLError)) throw error;
        return Promise.resolve({ data: null, errors: [{ type: error.type, path: [MUTATION], message: error.message }] });
      }
    });
    return Promise.resolve();
  };
}
